/* intref native core: the C interface seen by Python (through cffi). */
#ifndef INTREF_NATIVE_H
#define INTREF_NATIVE_H

#include <stdint.h>

int intref_abi_version(void);

#endif
