/* The first call's set-up: registrations, then the layout. See wiring.h. */
#include "wiring.h"
#include "oom.h"
#include "options.h"
#include "report.h"
#include "stats.h"
#include "tags.h"

static const zm__stats_tag_hooks tag_hooks = {
    .shut_windows = zm__tags_shut_windows,
    .fold = zm__tags_fold,
    .release = zm__tags_release,
    .reset_peaks = zm__tags_reset_peaks,
};

void zm__register_upcalls(void) {
  zm__stats_set_tag_hooks(&tag_hooks);
  zm__oom_set_summary(zm__report_oom_summary);
}

/* Before the layout is fixed, so that no thread counts into a tag before
 * the hooks are in. */
int zm__first_call(void) {
  zm__register_upcalls();
  return zm__freeze(zm__options_from_env);
}
