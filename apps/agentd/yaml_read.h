/*
 * A thin layer over libyaml's document API for the config loader: typed
 * reads of scalar nodes, each failure reported as "FILE:LINE:COL: key
 * 'x.y': why" (1-based line and column of the node).
 */
#ifndef AGENTD_YAML_READ_H
#define AGENTD_YAML_READ_H

#include "agentcore.h"

#include <stdio.h>
#include <yaml.h>

struct yaml_in {
    const char *path;
    FILE *diag;
    yaml_document_t doc;
    unsigned errors, warnings;
};

/* Loads `path`. Returns 0, -errno (cannot open) or -EINVAL (syntax error, reported). */
int yaml_in_open(struct yaml_in *in, const char *path, FILE *diag);
void yaml_in_close(struct yaml_in *in);

/* The root node, NULL for an empty file. */
yaml_node_t *yaml_in_root(struct yaml_in *in);
yaml_node_t *yaml_in_node(struct yaml_in *in, int index);

/* Reports at node `n` (`col` more columns to the right) about `key`. */
void yaml_in_error(struct yaml_in *in, const yaml_node_t *n, size_t col, const char *key,
                   const char *fmt, ...) AC_PRINTF(5, 6);
void yaml_in_warn(struct yaml_in *in, const yaml_node_t *n, const char *key, const char *fmt, ...)
    AC_PRINTF(4, 5);

/* Column of byte `offset` of the scalar's value (after an opening quote). */
size_t yaml_in_scalar_col(const yaml_node_t *n, size_t offset);

/* Typed reads: true and *out, or false after reporting the error. */
bool yaml_in_str(struct yaml_in *in, const yaml_node_t *n, const char *key, const char **out);
bool yaml_in_bool(struct yaml_in *in, const yaml_node_t *n, const char *key, bool *out);
bool yaml_in_uint(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out);
bool yaml_in_int(struct yaml_in *in, const yaml_node_t *n, const char *key, int64_t min,
                 int64_t max, int64_t *out);
bool yaml_in_double(struct yaml_in *in, const yaml_node_t *n, const char *key, double min,
                    double max, double *out);
bool yaml_in_duration(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                      uint64_t max, uint64_t *out);
bool yaml_in_size(struct yaml_in *in, const yaml_node_t *n, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out);

/* Node kinds as words for messages: "a mapping", "a list", "a value". */
const char *yaml_in_kind(const yaml_node_t *n);

#endif
