/* qmp-thin-timing.h: how long the phases of thin-disk extensions take
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib-object.h>
#include <qmpthin/qmp-version.h>

G_BEGIN_DECLS

/**
 * QMP_TYPE_THIN_TIMING:
 *
 * The #GType of #QmpThinTiming.
 *
 * Since: 1.0
 */
#define QMP_TYPE_THIN_TIMING (qmp_thin_timing_get_type ())

/**
 * QmpThinTiming:
 *
 * The durations of one phase of the extensions of a disk, or of all the
 * disks of a monitor. The structure is opaque; see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpThinTiming, qmp_thin_timing, QMP, THIN_TIMING, GObject)

QMP_AVAILABLE_IN_1_0
guint   qmp_thin_timing_get_count      (QmpThinTiming *timing);
QMP_AVAILABLE_IN_1_0
gint64  qmp_thin_timing_get_last_usec  (QmpThinTiming *timing);
QMP_AVAILABLE_IN_1_0
gint64  qmp_thin_timing_get_mean_usec  (QmpThinTiming *timing);
QMP_AVAILABLE_IN_1_0
gint64  qmp_thin_timing_get_max_usec   (QmpThinTiming *timing);
QMP_AVAILABLE_IN_1_0
gint64  qmp_thin_timing_get_total_usec (QmpThinTiming *timing);

G_END_DECLS
