/* Reports: zm_stats_print (report.c) and the summary of the OOM path. */
#ifndef ZM_REPORT_H
#define ZM_REPORT_H

/* Writes a few lines to stderr: used, peak, live blocks, the hard limit and,
 * with tags on, the tags holding the most memory. No allocation, no stdio
 * (write(2) and stack buffers only), so the default OOM handler can call it
 * just before it aborts. */
void zm__report_oom_summary(void);

/* How many tags the OOM summary names at most. */
#define ZM__OOM_TOP_TAGS 5

#endif
