/* qmp-thin-monitor-private.h: what the files of QmpThinMonitor share (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qmp-thin-monitor.c decides (arming, needs, resuming); qmp-thin-follow.c
 * follows the block graph (snapshots, commits, mirrors), polls and guards
 * the allocation; qmp-thin-pauses.c handles the pauses that are not for
 * lack of space; qmp-thin-jobs.c resumes the block jobs that stopped on a
 * full replica.
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-thin-monitor-private.h is private to libqmpthin."
#endif

#include <qmpthin/qmpthin.h>

#include "qmp-thin-disk-private.h"

G_BEGIN_DECLS

struct _QmpThinMonitor
{
  GObject parent_instance;

  QmpClient *client;            /* owned */
  GPtrArray *disks;             /* owned QmpThinDisk, in the order added; replicas after their disk */
  GHashTable *by_node;          /* node name -> QmpThinDisk, unowned */
  /* Node name of a node above a watched one (the device's root node,
   * which BLOCK_IO_ERROR and the stop reason name) -> the watched node's
   * name. Both owned. */
  GHashTable *roots;
  /* Cancelled at dispose: whatever is in flight then must not touch the
   * monitor any more. */
  GCancellable *cancellable;    /* owned */
  gulong handlers[6];
  gboolean resuming;            /* a cont is in flight */
  /* The query-blockstats of the pause for lack of space in progress (the
   * allocation of its disks, and where the disks it names are) is in
   * flight, or done. */
  gboolean looking_up;
  gboolean looked_up;
  /* Pauses of the VM for lack of space. */
  gboolean paused_nospace;
  gint64 pause_start;           /* monotonic */
  guint n_nospace_pauses;
  gint64 nospace_paused_usec;   /* of the pauses that ended */
  guint n_resumes;

  /* The block graph (qmp-thin-follow.c). */
  GHashTable *declared;         /* node name -> guint64* physical size, both owned */
  GHashTable *left;             /* node a disk left -> QmpThinDisk (owned ref) */
  gboolean graph_reading;       /* a reading is in flight */
  gboolean graph_again;         /* and another one is wanted after it */
  gboolean graph_unavailable;   /* QEMU has no x-debug-query-block-graph */
  guint poll_interval;          /* ms, 0: off */
  guint poll_source;
  gboolean polling;
  guint n_polls;
  char *shape;                  /* owned: the node names and chains the last poll saw */

  /* Pauses that are not for lack of space (qmp-thin-pauses.c). */
  QmpIoErrorPolicy io_error_policy;
  guint retry_delay;            /* ms: the first retry's delay */
  guint retry_max_delay;        /* ms */
  guint retry_next;             /* ms: the next retry's delay */
  guint retry_source;
  gint64 last_retry;            /* monotonic time of the last retry's cont */
  guint n_io_error_retries;
  guint pause_limit;            /* ms, 0: off */
  guint pause_limit_source;
  QmpStopReason *long_pause;    /* owned: the pause the limit timer watches */

  /* Block jobs stopped on a full replica (qmp-thin-jobs.c). */
  gulong job_error_handler;
  gboolean jobs_stopped;        /* one may be: read the jobs when nothing waits */
  gboolean jobs_reading;
  gboolean jobs_again;
  GHashTable *job_resumes;      /* job id -> guint64* its replicas' storage when last resumed; owned */
  guint n_job_resumes;

  /* What the monitor measures (qmp-thin-measure.c). */
  QmpThinTiming *timings[QMP_THIN_PHASE_PAUSE + 1];     /* owned, by phase, all disks */
  /* The VM's pauses on QEMU's clock (the timestamps of STOP and RESUME),
   * to take them out of the time over which a disk's allocation grew. */
  gint64 qemu_stopped_at;       /* of the STOP of the pause in progress; 0: running */
  gint64 qemu_paused_usec;      /* of the pauses that ended */
  /* How far the monitor's wall clock runs ahead of QEMU's, at most: the
   * least, over the events since the connection, of the time of arrival
   * less QEMU's timestamp (a delivery delay, plus any skew). */
  gint64 clock_lead;
  gboolean clock_known;
};

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_N_NOSPACE_PAUSES,
  PROP_N_RESUMES,
  PROP_POLL_INTERVAL,
  PROP_N_POLLS,
  PROP_IO_ERROR_POLICY,
  PROP_IO_ERROR_RETRY_DELAY,
  PROP_IO_ERROR_RETRY_MAX_DELAY,
  PROP_N_IO_ERROR_RETRIES,
  PROP_PAUSE_LIMIT,
  PROP_N_JOB_RESUMES,
  N_PROPS
};

enum {
  SIGNAL_EXTEND_NEEDED,
  SIGNAL_ERROR,
  SIGNAL_DISK_MOVED,
  SIGNAL_REPLICA_ADDED,
  SIGNAL_REPLICA_REMOVED,
  SIGNAL_PAUSED_TOO_LONG,
  N_SIGNALS
};

extern GParamSpec *_qmp_thin_monitor_properties[N_PROPS];
extern guint _qmp_thin_monitor_signals[N_SIGNALS];

/* An operation in flight that needs the monitor back: the monitor is
 * valid as long as the cancellable, its own at the start, is not
 * cancelled. */
typedef struct {
  QmpThinMonitor *monitor;      /* unowned */
  GCancellable *cancellable;    /* owned */
} QmpThinCall;

QmpThinCall *_qmp_thin_call_new               (QmpThinMonitor  *self);
void         _qmp_thin_call_free              (QmpThinCall     *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpThinCall, _qmp_thin_call_free)

/* qmp-thin-monitor.c */
gboolean     _qmp_thin_monitor_gone           (QmpThinMonitor  *self);
gboolean     _qmp_thin_is_disconnection       (const GError    *error);
void         _qmp_thin_monitor_emit_error     (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk,
                                               const GError    *error);
void         _qmp_thin_monitor_need           (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk,
                                               QmpExtendReason  reason,
                                               guint64          write_end);
void         _qmp_thin_monitor_arm            (QmpThinMonitor  *self,
                                               GPtrArray       *disks);
void         _qmp_thin_monitor_update         (QmpThinMonitor  *self);
void         _qmp_thin_monitor_learn_stats    (QmpThinMonitor  *self,
                                               GPtrArray       *stats);
void         _qmp_thin_monitor_drop_disk      (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk);
gboolean     _qmp_thin_disk_short             (QmpThinDisk     *disk);

/* qmp-thin-follow.c */
void         _qmp_thin_monitor_class_init_follow (QmpThinMonitorClass *klass);
void         _qmp_thin_monitor_read_graph     (QmpThinMonitor  *self);
gboolean     _qmp_thin_monitor_improbable     (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk,
                                               guint64          write_end);
void         _qmp_thin_monitor_restart_poll   (QmpThinMonitor  *self);

/* qmp-thin-measure.c */
void         _qmp_thin_monitor_init_measure   (QmpThinMonitor  *self);
void         _qmp_thin_monitor_connect_measure (QmpThinMonitor *self,
                                               gulong          *handlers);
void         _qmp_thin_monitor_clear_measure  (QmpThinMonitor  *self);
void         _qmp_thin_monitor_record         (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk,
                                               QmpThinPhase     phase,
                                               gint64           usec);
void         _qmp_thin_monitor_crossed        (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk,
                                               QmpWriteThresholdEvent *event);
void         _qmp_thin_monitor_sample_pause   (QmpThinMonitor  *self);
gboolean     _qmp_thin_monitor_learn_rate     (QmpThinMonitor  *self,
                                               QmpThinDisk     *disk);
void         _qmp_thin_monitor_pause_ended    (QmpThinMonitor  *self,
                                               gint64           usec);
void         _qmp_thin_monitor_lost_clock     (QmpThinMonitor  *self);

/* qmp-thin-pauses.c */
void         _qmp_thin_monitor_class_init_pauses (QmpThinMonitorClass *klass);
void         _qmp_thin_monitor_update_pauses  (QmpThinMonitor  *self);
void         _qmp_thin_monitor_stop_pauses    (QmpThinMonitor  *self);

/* qmp-thin-jobs.c */
void         _qmp_thin_monitor_class_init_jobs (QmpThinMonitorClass *klass);
void         _qmp_thin_monitor_connect_jobs   (QmpThinMonitor  *self);
void         _qmp_thin_monitor_disconnect_jobs (QmpThinMonitor *self);
void         _qmp_thin_monitor_finalize_jobs  (QmpThinMonitor  *self);
void         _qmp_thin_monitor_tend_jobs      (QmpThinMonitor  *self);

G_END_DECLS
