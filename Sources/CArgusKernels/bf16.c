#include "argus_conv.h"

#include <string.h>

// bfloat16 keeps float32's sign and exponent and the top 7 bits of its mantissa. A value rounded
// to it (nearest, ties to even) is held here as the float32 whose low 16 bits are zero: products
// of two such values are exact in float32, so a float32 FMA over them gives what AVX512-BF16's
// VDPBF16PS gives (its products are exact and its sums are rounded to float32), denormals aside.
void argus_round_bf16(const float *source, float *destination, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, source + i, 4);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) {
            bits |= 0x00400000u;  // NaN stays a (quiet) NaN
        } else {
            bits += 0x7FFFu + ((bits >> 16) & 1u);
        }
        bits &= 0xFFFF0000u;
        memcpy(destination + i, &bits, 4);
    }
}
