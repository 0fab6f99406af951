/* Log lines: logfmt fields, escaping, level filter, file and reopen. */
#include "agentcore/base.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/ac_log_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

Test(base_log, logfmt_line_with_tag_and_escapes)
{
    char path[128], buf[2048];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/a.log", dir);
    cr_assert_eq(ac_log_open(path), 0);
    ac_log_set_level(AC_LOG_INFO);
    ac_log_set_thread_tag("shard=3");
    ac_log_info("said \"hi\" \\ to\nyou");
    ac_log_set_thread_tag(NULL);
    ac_log_warn("plain");
    ac_log_debug("hidden %d", 1);
    cr_assert_eq(ac_log_open(NULL), 0);
    slurp(path, buf, sizeof buf);
    char *l2 = strchr(buf, '\n');
    cr_assert_not_null(l2);
    *l2++ = 0;
    cr_assert_eq(strncmp(buf, "ts=", 3), 0, "%s", buf);
    cr_assert_eq(buf[13], 'T', "RFC 3339 time: %s", buf);
    cr_assert_eq(buf[26], 'Z', "UTC, ms: %s", buf);
    cr_assert_str_eq(buf + 27, " level=info shard=3 msg=\"said \\\"hi\\\" \\\\ to\\nyou\"");
    cr_assert_str_eq(l2 + 27, " level=warn msg=\"plain\"\n", "%s", l2);
    cr_assert_null(strstr(l2, "hidden"));
    unlink(path);
    rmdir(dir);
}

Test(base_log, reopen_follows_a_moved_file)
{
    char path[128], moved[128], buf[2048];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/b.log", dir);
    snprintf(moved, sizeof moved, "%s/b.log.1", dir);
    cr_assert_eq(ac_log_open(path), 0);
    ac_log_error("before");
    cr_assert_eq(rename(path, moved), 0);
    ac_log_error("still old");
    cr_assert_eq(ac_log_reopen(), 0);
    ac_log_error("after");
    cr_assert_eq(ac_log_open(NULL), 0);
    slurp(moved, buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "msg=\"before\""));
    cr_assert_not_null(strstr(buf, "msg=\"still old\""));
    cr_assert_null(strstr(buf, "after"));
    slurp(path, buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "msg=\"after\""), "%s", buf);
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

Test(base_log, open_failure_keeps_the_log)
{
    cr_assert_eq(ac_log_open("/nonexistent-dir/x.log"), -ENOENT);
    cr_assert_eq(ac_log_reopen(), 0, "no file: nothing to do");
}

Test(base_log, level_names)
{
    enum ac_log_level l;
    cr_assert_eq(ac_log_level_parse("DEBUG", &l), 0);
    cr_assert_eq(l, AC_LOG_DEBUG);
    cr_assert_eq(ac_log_level_parse("verbose", &l), -EINVAL);
    cr_assert_str_eq(ac_log_level_name(AC_LOG_WARN), "warn");
}
