// OpenBLAS's CBLAS interface plus its thread controls. Debian installs the header
// under the variant's own include directory, which pkg-config `openblas` names.
#include <cblas.h>
