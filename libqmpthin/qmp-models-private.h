/* qmp-models-private.h: what the library makes of its typed values, beyond their public API (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-models-private.h is private to libqmpthin."
#endif

#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-events.h>
#include <qmpthin/qmp-stop-reason.h>

G_BEGIN_DECLS

/* qmp-events.c: the event of its typed subclass, derived or not. */
QmpEvent      *_qmp_event_new_full            (const char           *name,
                                               gint64                timestamp_usec,
                                               JsonObject           *data,
                                               gboolean              derived);

/* qmp-block.c: the device a BLOCK_IO_ERROR names, as query-block would. */
QmpBlockInfo  *_qmp_block_info_new_for_error  (QmpBlockIoErrorEvent *event);

/* qmp-stop-reason.c */
QmpStopReason *_qmp_stop_reason_new_for_disks (QmpStopKind           kind,
                                               const char           *run_state,
                                               GPtrArray            *disks,
                                               gint64                since_usec,
                                               gboolean              derived);
gboolean       _qmp_stop_reason_equal         (QmpStopReason        *a,
                                               QmpStopReason        *b);

G_END_DECLS
