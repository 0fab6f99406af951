/* Private to the alert module: what each metric is and how it is written. */
#ifndef AC_ALERT_INTERNAL_H
#define AC_ALERT_INTERNAL_H

#include "agentcore/alert.h"

struct ac__alert_metric_info {
    const char *name;       /* as written in conditions */
    enum ac_unit_kind unit; /* the unit a threshold must carry */
    const char *unit_hint;  /* for messages: "a time such as 10ms" */
    const char *promql;     /* the same figure over the exported metrics */
};

extern const struct ac__alert_metric_info ac__alert_metrics[AC_ALERT_METRIC_COUNT];

extern const char *const ac__alert_op_names[4];

#define AC__ALERT_BASELINE_WINDOW_NS (600ull * 1000000000ull)
#define AC__ALERT_GROWTH_WINDOW_NS   (60ull * 1000000000ull)

#endif
