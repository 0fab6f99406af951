/* agentcore — umbrella header: every public module header. */
#ifndef AGENTCORE_H
#define AGENTCORE_H

#include "agentcore/base.h"
#include "agentcore/admin.h"
#include "agentcore/fault.h"
#include "agentcore/dlock.h"
#include "agentcore/agent.h"
#include "agentcore/alert.h"
#include "agentcore/cluster.h"
#include "agentcore/hist.h"
#include "agentcore/http.h"
#include "agentcore/metrics.h"
#include "agentcore/mem.h"
#include "agentcore/net.h"
#include "agentcore/resp.h"
#include "agentcore/ring.h"
#include "agentcore/runtime.h"
#include "agentcore/sched.h"
#include "agentcore/timer.h"
#include "agentcore/version.h"

#endif
