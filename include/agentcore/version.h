/*
 * agentcore/version.h — the library's version. These three numbers are the
 * one place the version is written: CMake reads them from this file for the
 * project version, the shared library's SONAME (libagentcore.so.MAJOR) and
 * agentcore.pc.
 *
 * A MAJOR change breaks the ABI; MINOR adds to it; PATCH fixes.
 */
#ifndef AGENTCORE_VERSION_H
#define AGENTCORE_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define AC_VERSION_MAJOR 0
#define AC_VERSION_MINOR 2
#define AC_VERSION_PATCH 0

/* MAJOR*10000 + MINOR*100 + PATCH, for compile-time comparisons. */
#define AC_VERSION_NUMBER (AC_VERSION_MAJOR * 10000 + AC_VERSION_MINOR * 100 + AC_VERSION_PATCH)

/*
 * The version of the library actually linked, as "MAJOR.MINOR.PATCH"
 * (static string). Compare with AC_VERSION_* to detect a header/library
 * mismatch. Any thread.
 */
const char *ac_version(void);

/* The linked library's AC_VERSION_NUMBER. Any thread. */
int ac_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
