/* qmp-events.h: typed events of thin provisioning
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>
#include <qmpthin/qmp-event.h>

G_BEGIN_DECLS

/**
 * QMP_TYPE_BLOCK_IO_ERROR_EVENT:
 *
 * The #GType of #QmpBlockIoErrorEvent.
 *
 * Since: 1.0
 */
#define QMP_TYPE_BLOCK_IO_ERROR_EVENT (qmp_block_io_error_event_get_type ())

/**
 * QmpBlockIoErrorEvent:
 *
 * A `BLOCK_IO_ERROR` event. The structure is opaque; see the properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpBlockIoErrorEvent, qmp_block_io_error_event, QMP, BLOCK_IO_ERROR_EVENT, QmpEvent)

QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_device           (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_node_name        (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_qom_path         (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
QmpIoOperation       qmp_block_io_error_event_get_operation        (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_operation_string (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
QmpBlockErrorAction  qmp_block_io_error_event_get_action           (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_action_string    (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
gboolean             qmp_block_io_error_event_get_nospace          (QmpBlockIoErrorEvent *event);
QMP_AVAILABLE_IN_1_0
const char          *qmp_block_io_error_event_get_reason           (QmpBlockIoErrorEvent *event);

/**
 * QMP_TYPE_WRITE_THRESHOLD_EVENT:
 *
 * The #GType of #QmpWriteThresholdEvent.
 *
 * Since: 1.0
 */
#define QMP_TYPE_WRITE_THRESHOLD_EVENT (qmp_write_threshold_event_get_type ())

/**
 * QmpWriteThresholdEvent:
 *
 * A `BLOCK_WRITE_THRESHOLD` event. The structure is opaque; see the
 * properties.
 *
 * Since: 1.0
 */
QMP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (QmpWriteThresholdEvent, qmp_write_threshold_event, QMP, WRITE_THRESHOLD_EVENT, QmpEvent)

/**
 * QMP_AMOUNT_EXCEEDED_UNKNOWN:
 *
 * The #QmpWriteThresholdEvent:amount-exceeded of a derived event: the
 * threshold was crossed while no client was connected, by how much is not
 * known. It is %G_MAXUINT64, written out so that it reaches language
 * bindings as a 64-bit unsigned constant.
 *
 * Since: 1.0
 */
#define QMP_AMOUNT_EXCEEDED_UNKNOWN G_GUINT64_CONSTANT (18446744073709551615)

QMP_AVAILABLE_IN_1_0
const char *qmp_write_threshold_event_get_node_name       (QmpWriteThresholdEvent *event);
QMP_AVAILABLE_IN_1_0
guint64     qmp_write_threshold_event_get_write_threshold (QmpWriteThresholdEvent *event);
QMP_AVAILABLE_IN_1_0
guint64     qmp_write_threshold_event_get_amount_exceeded (QmpWriteThresholdEvent *event);
QMP_AVAILABLE_IN_1_0
guint64     qmp_write_threshold_event_get_end_offset      (QmpWriteThresholdEvent *event);

G_END_DECLS
