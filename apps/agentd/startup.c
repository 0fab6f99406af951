#include "startup.h"

#include <errno.h>
#include <string.h>

static int emit_rules(const struct agentd_config *c, const char *path)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "agentd: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int err = ac_alert_rules_write_prometheus(c->rules, c->nrules, 0, f);
    if (path && fclose(f) && !err)
        err = -EIO;
    if (err) {
        fprintf(stderr, "agentd: writing rules: %s\n", ac_strerror(err));
        return 1;
    }
    return 0;
}

int agentd_startup(int argc, char **argv, struct agentd_config *c, struct agentd_cli *cli)
{
    agentd_cli_parse(argc, argv, c, cli);
    if (cli->check_config) {
        printf("agentd: %s: valid\n", cli->config_path ? cli->config_path : "(defaults)");
        return 0;
    }
    if (cli->print_config) {
        agentd_config_print(c, stdout);
        return 0;
    }
    if (cli->emit_rules)
        return emit_rules(c, cli->rules_path);
    ac_log_set_level(c->log_level);
    if (c->log_file[0]) {
        int err = ac_log_open(c->log_file);
        if (err) {
            fprintf(stderr, "agentd: log file %s: %s\n", c->log_file, ac_strerror(err));
            return 2;
        }
    }
    return -1;
}
