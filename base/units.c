/*
 * Quantities with units: one table of unit names shared by the config
 * loader (durations, sizes) and the alert-rule parser (thresholds such as
 * "10ms" or "10MB/s"), so every place spells units the same way.
 * Byte units follow SI and IEC: KB = 1000, KiB = 1024.
 */
#include "agentcore/base.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;
    enum ac_unit_kind kind;
    double scale; /* value of one unit in the kind's base unit */
};

static const struct unit units[] = {
    {"ns", AC_UNIT_SECONDS, 1e-9},
    {"us", AC_UNIT_SECONDS, 1e-6},
    {"\xc2\xb5s", AC_UNIT_SECONDS, 1e-6}, /* µs */
    {"ms", AC_UNIT_SECONDS, 1e-3},
    {"s", AC_UNIT_SECONDS, 1},
    {"m", AC_UNIT_SECONDS, 60},
    {"min", AC_UNIT_SECONDS, 60},
    {"h", AC_UNIT_SECONDS, 3600},
    {"B", AC_UNIT_BYTES, 1},
    {"KB", AC_UNIT_BYTES, 1e3},
    {"MB", AC_UNIT_BYTES, 1e6},
    {"GB", AC_UNIT_BYTES, 1e9},
    {"TB", AC_UNIT_BYTES, 1e12},
    {"KiB", AC_UNIT_BYTES, 1024.0},
    {"MiB", AC_UNIT_BYTES, 1024.0 * 1024},
    {"GiB", AC_UNIT_BYTES, 1024.0 * 1024 * 1024},
    {"TiB", AC_UNIT_BYTES, 1024.0 * 1024 * 1024 * 1024},
    {"%", AC_UNIT_FRACTION, 0.01},
};

static const struct unit *unit_find(const char *u, size_t len)
{
    for (size_t i = 0; i < AC_ARRAY_LEN(units); i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, u, len) == 0)
            return &units[i];
    return NULL;
}

int ac_quantity_parse(const char *s, size_t len, enum ac_unit_kind *kind, double *value)
{
    char num[64];
    size_t n = 0;
    /* strtod would accept "inf", hex and leading space: take digits only */
    while (n < len &&
           (s[n] == '-' || s[n] == '+' || s[n] == '.' || (s[n] >= '0' && s[n] <= '9') ||
            ((s[n] == 'e' || s[n] == 'E') && n > 0 && n + 1 < len &&
             (s[n + 1] == '-' || s[n + 1] == '+' || (s[n + 1] >= '0' && s[n + 1] <= '9')))))
        n++;
    if (n == 0 || n >= sizeof num)
        return -EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(num, &end);
    if (end != num + n)
        return -EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return -ERANGE;
    const char *u = s + n;
    size_t ulen = len - n;
    enum ac_unit_kind k = AC_UNIT_NONE;
    if (ulen) {
        bool per_sec = ulen > 2 && memcmp(u + ulen - 2, "/s", 2) == 0;
        const struct unit *un = unit_find(u, per_sec ? ulen - 2 : ulen);
        if (!un || (per_sec && un->kind != AC_UNIT_BYTES))
            return -ENOENT;
        k = per_sec ? AC_UNIT_BYTES_PER_SEC : un->kind;
        v *= un->scale;
    }
    *kind = k;
    *value = v;
    return 0;
}

/*
 * A non-negative whole number of base units times `scale`, rounded to the
 * nearest (durations: "0.1s" * 1e9 is 99999999.99... in binary) or down
 * (sizes: a fraction of a byte is no byte).
 */
static int whole(const char *s, enum ac_unit_kind want, bool bare_ok, double scale, bool nearest,
                 uint64_t *out)
{
    enum ac_unit_kind kind;
    double v;
    int err = ac_quantity_parse(s, strlen(s), &kind, &v);
    if (err)
        return err;
    if (kind == AC_UNIT_NONE ? !(bare_ok || v == 0) : kind != want)
        return -EDOM;
    if (v < 0)
        return -EINVAL;
    v = nearest ? floor(v * scale + 0.5) : floor(v * scale);
    if (v >= 18446744073709551616.0)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int ac_duration_parse(const char *s, uint64_t *ns)
{
    return whole(s, AC_UNIT_SECONDS, false, 1e9, true, ns);
}

int ac_size_parse(const char *s, uint64_t *bytes)
{
    return whole(s, AC_UNIT_BYTES, true, 1, false, bytes);
}

void ac_duration_format(uint64_t ns, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } u[] = {{"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull},
             {"ms", 1000000ull},      {"us", 1000ull},       {"ns", 1}};
    unsigned i = 0;
    if (ns == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    while (ns % u[i].ns)
        i++;
    snprintf(buf, cap, "%" PRIu64 "%s", ns / u[i].ns, u[i].name);
}

void ac_size_format(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const iec[] = {"TiB", "GiB", "MiB", "KiB"};
    static const char *const si[] = {"TB", "GB", "MB", "KB"};
    for (unsigned i = 0; i < 4; i++) {
        unsigned shift = 10 * (4 - i);
        uint64_t dec = 1;
        for (unsigned k = 0; k < 4 - i; k++)
            dec *= 1000;
        if (bytes && bytes % (1ull << shift) == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", bytes >> shift, iec[i]);
            return;
        }
        if (bytes && bytes % dec == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", bytes / dec, si[i]);
            return;
        }
    }
    snprintf(buf, cap, "%" PRIu64 "B", bytes);
}
