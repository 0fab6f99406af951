/*
 * libyaml's document API gives every node its start mark (0-based line
 * and column), which is all the loader needs for precise messages. Plain
 * scalars are untyped strings in libyaml; the typed reads here decide what
 * a value is, so "8080" and "'8080'" both read as a number where a number
 * is wanted.
 */
#include "yaml_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int yaml_in_open(struct yaml_in *in, const char *path, FILE *diag)
{
    yaml_parser_t p;
    int err = 0;
    *in = (struct yaml_in){.path = path, .diag = diag};
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &in->doc)) {
        fprintf(diag, "%s:%zu:%zu: %s%s%s\n", path, p.problem_mark.line + 1,
                p.problem_mark.column + 1, p.problem ? p.problem : "YAML syntax error",
                p.context ? " " : "", p.context ? p.context : "");
        in->errors++;
        err = -EINVAL;
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (err)
        memset(&in->doc, 0, sizeof in->doc);
    return err;
}

void yaml_in_close(struct yaml_in *in)
{
    yaml_document_delete(&in->doc);
}

yaml_node_t *yaml_in_root(struct yaml_in *in)
{
    return yaml_document_get_root_node(&in->doc);
}

yaml_node_t *yaml_in_node(struct yaml_in *in, int index)
{
    return yaml_document_get_node(&in->doc, index);
}

static void report(struct yaml_in *in, const yaml_node_t *n, size_t col, const char *what,
                   const char *key, const char *fmt, va_list ap)
{
    fprintf(in->diag, "%s:%zu:%zu: %skey '%s': ", in->path, n->start_mark.line + 1,
            n->start_mark.column + 1 + col, what, key);
    vfprintf(in->diag, fmt, ap);
    fputc('\n', in->diag);
}

void yaml_in_error(struct yaml_in *in, const yaml_node_t *n, size_t col, const char *key,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(in, n, col, "", key, fmt, ap);
    va_end(ap);
    in->errors++;
}

void yaml_in_warn(struct yaml_in *in, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(in, n, 0, "warning: ", key, fmt, ap);
    va_end(ap);
    in->warnings++;
}

size_t yaml_in_scalar_col(const yaml_node_t *n, size_t offset)
{
    bool quoted = n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                  n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return offset + quoted;
}

const char *yaml_in_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a value";
    }
}

bool yaml_in_str(struct yaml_in *in, const yaml_node_t *n, const char *key, const char **out)
{
    if (n->type != YAML_SCALAR_NODE) {
        yaml_in_error(in, n, 0, key, "expected a value, found %s", yaml_in_kind(n));
        return false;
    }
    *out = (const char *)n->data.scalar.value;
    return true;
}

bool yaml_in_bool(struct yaml_in *in, const yaml_node_t *n, const char *key, bool *out)
{
    const char *s;
    if (!yaml_in_str(in, n, key, &s))
        return false;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *out = s[0] == 't';
        return true;
    }
    yaml_in_error(in, n, 0, key, "expected true or false, not '%s'", s);
    return false;
}

bool yaml_in_int(struct yaml_in *in, const yaml_node_t *n, const char *key, int64_t min,
                 int64_t max, int64_t *out)
{
    const char *s;
    char *end;
    if (!yaml_in_str(in, n, key, &s))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || strchr(s, ' ')) {
        yaml_in_error(in, n, 0, key, "expected a whole number, not '%s'", s);
        return false;
    }
    if (v < min || v > max) {
        yaml_in_error(in, n, 0, key, "%lld is out of range (%" PRId64 "..%" PRId64 ")", v, min,
                      max);
        return false;
    }
    *out = v;
    return true;
}

bool yaml_in_uint(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    int64_t v;
    if (!yaml_in_int(in, n, key, (int64_t)min, (int64_t)(max > INT64_MAX ? INT64_MAX : max), &v))
        return false;
    *out = (uint64_t)v;
    return true;
}

bool yaml_in_double(struct yaml_in *in, const yaml_node_t *n, const char *key, double min,
                    double max, double *out)
{
    const char *s;
    enum ac_unit_kind kind;
    double v;
    if (!yaml_in_str(in, n, key, &s))
        return false;
    if (ac_quantity_parse(s, strlen(s), &kind, &v) || kind != AC_UNIT_NONE) {
        yaml_in_error(in, n, 0, key, "expected a number, not '%s'", s);
        return false;
    }
    if (v < min || v > max) {
        yaml_in_error(in, n, 0, key, "%s is out of range (%g..%g)", s, min, max);
        return false;
    }
    *out = v;
    return true;
}

static const char *unit_problem(int err, const char *kind)
{
    switch (err) {
    case -ENOENT:
        return "unknown unit";
    case -EDOM:
        return kind;
    case -ERANGE:
        return "too large";
    default:
        return "malformed";
    }
}

/* A quantity with units: how to read and write it, and what to say. */
struct unit_kind {
    int (*parse)(const char *s, uint64_t *out);
    void (*format)(uint64_t v, char *buf, size_t cap);
    const char *expected; /* "a duration such as 30s or 100ms" */
    const char *units;    /* "needs a time unit: ..." */
};

static const struct unit_kind durations = {ac_duration_parse, ac_duration_format,
                                           "a duration such as 30s or 100ms",
                                           "needs a time unit: ns, us, ms, s, m, h"};
static const struct unit_kind sizes = {ac_size_parse, ac_size_format,
                                       "a size such as 64KiB or 512MB",
                                       "needs a byte unit: B, KB, MB, GB, KiB, MiB, GiB"};

static bool read_units(struct yaml_in *in, const yaml_node_t *n, const char *key,
                       const struct unit_kind *u, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s;
    char lo[32], hi[32];
    uint64_t v;
    if (!yaml_in_str(in, n, key, &s))
        return false;
    int err = u->parse(s, &v);
    if (err) {
        yaml_in_error(in, n, 0, key, "expected %s, not '%s' (%s)", u->expected, s,
                      unit_problem(err, u->units));
        return false;
    }
    if (v < min || v > max) {
        u->format(min, lo, sizeof lo);
        u->format(max, hi, sizeof hi);
        yaml_in_error(in, n, 0, key, "%s is out of range (%s..%s)", s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool yaml_in_duration(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                      uint64_t max, uint64_t *out)
{
    return read_units(in, n, key, &durations, min, max, out);
}

bool yaml_in_size(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    return read_units(in, n, key, &sizes, min, max, out);
}
