// libsecp256k1 (Debian's libsecp256k1-dev): ECDSA over secp256k1 for signed requests (ES256K).
#include <secp256k1.h>

// One context for verification, created once (a context is read-only, so threads may share it).
static inline secp256k1_context *argus_secp256k1_verify_context(void) {
    return secp256k1_context_create(SECP256K1_CONTEXT_VERIFY);
}
