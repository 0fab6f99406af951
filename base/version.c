/* The linked library's version (agentcore/version.h). */
#include "agentcore/version.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *ac_version(void)
{
    return STR(AC_VERSION_MAJOR) "." STR(AC_VERSION_MINOR) "." STR(AC_VERSION_PATCH);
}

int ac_version_number(void)
{
    return AC_VERSION_NUMBER;
}
