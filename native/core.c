#include "intref_native.h"

int intref_abi_version(void) { return 1; }
