/* qmp-thin-disk-private.h: what QmpThinMonitor keeps of each disk (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-thin-disk-private.h is private to libqmpthin."
#endif

#include <qmpthin/qmpthin.h>

#include "qmp-thin-graph-private.h"

G_BEGIN_DECLS

/* Why a disk is DISABLED. */
typedef enum {
  DISABLED_NOT,
  DISABLED_ERROR,               /* arming failed: tried again when the client is ready again */
  DISABLED_MAXIMUM,             /* reached its maximum size */
  DISABLED_REMOVED,             /* removed from its monitor: for good */
  DISABLED_IMPROBABLE,          /* its allocation is past its maximum size */
} QmpThinDiskDisabled;

struct _QmpThinDisk
{
  GObject parent_instance;

  QmpThinMonitor *monitor;      /* unowned; NULL once removed */
  char *node_name;              /* owned */
  guint64 physical_size;
  guint64 chunk_size;
  guint free_percent;
  guint64 maximum_size;         /* 0: none */
  guint64 threshold;            /* the last one armed; 0: none yet */
  QmpThinDiskState state;
  QmpThinDiskDisabled disabled;
  guint64 highest_offset;
  guint64 wanted_size;
  guint n_extensions;
  /* extend-needed was emitted and the consumer has not answered yet. */
  gboolean asked;
  /* A threshold is being armed and the allocation checked: until that
   * ends, the allocation the monitor knows may be stale. */
  gboolean arming;
  /* The physical size when the monitor last resumed a pause for lack of
   * space on this disk; 0: none. Paused again at that size, the room it
   * had was not enough, whatever the allocation says. */
  guint64 resumed_size;
  /* ::error said it reached its maximum size; reset when it is armed again. */
  gboolean told_maximum;
  /* Bumped by every arming: the results of an older one are stale. */
  guint serial;
  /* The consumer set the maximum size: the monitor does not estimate it. */
  gboolean maximum_set;
  /* ::error said its allocation is improbable. */
  gboolean told_improbable;
  /* Where it sits in the block graph, once the monitor read it. */
  QmpThinPlace place;
  gboolean placed;
  /* A replica: the storage of a job's target (a mirror's, an active
   * commit's base) that the guest's writes reach through @replica_of's
   * device while @job runs. Owned, and still set once the job ended
   * and the replica left its monitor. */
  QmpThinDisk *replica_of;
  char *job;                    /* owned */

  /* Sizing and timing (qmp-thin-timing.c). */
  QmpThinSizing sizing;
  QmpThinTiming *timings[QMP_THIN_PHASE_PAUSE + 1];     /* owned, by phase */
  /* QEMU's timestamp (µs) of the threshold crossing extend-needed has not
   * been emitted for yet; 0: none. */
  gint64 crossed_at;
  gint64 asked_at;              /* monotonic: extend-needed emitted; 0: none */
  gint64 extended_at;           /* monotonic: extended(), arming in flight; 0: none */
  gboolean in_pause;            /* named by the pause for lack of space in progress */
  /* The last sample of the allocation, at a time on QEMU's clock with the
   * VM's pauses taken out (see _qmp_thin_disk_sample()); 0: none. */
  gint64 sample_at;
  guint64 sample_allocation;
  guint64 write_rate;           /* bytes per second; 0: not known yet */
  guint rate_intervals;         /* how many intervals it was measured over */
};

typedef enum {
  DISK_PROP_0,
  DISK_PROP_NODE_NAME,
  DISK_PROP_PHYSICAL_SIZE,
  DISK_PROP_CHUNK_SIZE,
  DISK_PROP_FREE_PERCENT,
  DISK_PROP_MAXIMUM_SIZE,
  DISK_PROP_THRESHOLD,
  DISK_PROP_STATE,
  DISK_PROP_HIGHEST_OFFSET,
  DISK_PROP_WANTED_SIZE,
  DISK_PROP_N_EXTENSIONS,
  DISK_PROP_DEVICE,
  DISK_PROP_REPLICA_OF,
  DISK_PROP_JOB,
  DISK_PROP_SIZING,
  DISK_PROP_WRITE_RATE,
  DISK_N_PROPS
} QmpThinDiskProperty;

QmpThinDisk *_qmp_thin_disk_new          (QmpThinMonitor      *monitor,
                                          const char          *node_name,
                                          guint64              physical_size,
                                          guint64              chunk_size,
                                          guint                free_percent);
void         _qmp_thin_disk_notify       (QmpThinDisk         *disk,
                                          QmpThinDiskProperty  property);
void         _qmp_thin_disk_set_uint64   (QmpThinDisk         *disk,
                                          guint64             *field,
                                          guint64              value,
                                          QmpThinDiskProperty  property);
void         _qmp_thin_disk_set_state    (QmpThinDisk         *disk,
                                          QmpThinDiskState     state);
void         _qmp_thin_disk_supersede    (QmpThinDisk         *disk);
void         _qmp_thin_disk_disable      (QmpThinDisk         *disk,
                                          QmpThinDiskDisabled  why);
void         _qmp_thin_disk_set_string   (QmpThinDisk         *disk,
                                          char               **field,
                                          const char          *value,
                                          QmpThinDiskProperty  property);

/* qmp-thin-timing.c */
QmpThinTiming *_qmp_thin_timing_new      (void);
void         _qmp_thin_timing_add        (QmpThinTiming       *timing,
                                          gint64               usec);
void         _qmp_thin_disk_init_sizing  (QmpThinDisk         *disk);
void         _qmp_thin_disk_sample       (QmpThinDisk         *disk,
                                          gint64               running_usec,
                                          guint64              allocation);
guint64      _qmp_thin_disk_margin       (QmpThinDisk         *disk);
guint64      _qmp_thin_disk_step         (QmpThinDisk         *disk);
guint64      _qmp_thin_disk_compute_threshold (QmpThinDisk    *disk);

G_END_DECLS
