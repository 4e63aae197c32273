/* qmp-events.c: typed events of thin provisioning
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-events.h>

#include "qmp-json.h"
#include "qmp-models-private.h"

/**
 * SECTION:qmp-events
 * @Title: Thin-provisioning events
 * @Short_description: BLOCK_IO_ERROR and BLOCK_WRITE_THRESHOLD as typed objects
 *
 * The two events a thin-provisioning agent acts on come as subclasses of
 * #QmpEvent with typed properties, both on #QmpClient::event (detailed by
 * their name) and on the typed signals #QmpClient::block-io-error and
 * #QmpClient::block-write-threshold.
 *
 * Members QEMU leaves out get documented defaults, members of a type QEMU
 * does not send are treated as absent, and enumeration values this
 * version of the library does not know map to an `UNKNOWN` value while
 * the string QEMU sent stays readable. The whole payload is always
 * available as qmp_event_get_data().
 *
 * Two facts of QEMU 7.2 shape what these events can say:
 *
 * - `BLOCK_IO_ERROR` has a `nospace` member only when the device's error
 *   policy keeps an I/O status (werror `enospc` or `stop`); with
 *   `werror=report` #QmpBlockIoErrorEvent:nospace is %FALSE even for a full
 *   disk, and only #QmpBlockIoErrorEvent:reason tells.
 * - With `-blockdev` and `-device`, #QmpBlockIoErrorEvent:device is the
 *   empty string; #QmpBlockIoErrorEvent:node-name (the node attached to the
 *   device, not the node that ran out of space) names the disk, and QEMU
 *   9.2 and later add #QmpBlockIoErrorEvent:qom-path.
 *
 * A `BLOCK_WRITE_THRESHOLD` event fires once: QEMU disarms the threshold
 * (it then reads 0), so re-arm it after every extension.
 */

/* ------------------------------------------------------------------------ */
/* QmpBlockIoErrorEvent */

struct _QmpBlockIoErrorEvent
{
  QmpEvent parent_instance;

  const char *device;           /* all strings point into the sealed data */
  const char *node_name;
  const char *qom_path;
  const char *operation_string;
  const char *action_string;
  const char *reason;
  QmpIoOperation operation;
  QmpBlockErrorAction action;
  gboolean nospace;
};

G_DEFINE_FINAL_TYPE (QmpBlockIoErrorEvent, qmp_block_io_error_event, QMP_TYPE_EVENT)

enum {
  BIOE_PROP_0,
  BIOE_PROP_DEVICE,
  BIOE_PROP_NODE_NAME,
  BIOE_PROP_QOM_PATH,
  BIOE_PROP_OPERATION,
  BIOE_PROP_OPERATION_STRING,
  BIOE_PROP_ACTION,
  BIOE_PROP_ACTION_STRING,
  BIOE_PROP_NOSPACE,
  BIOE_PROP_REASON,
  BIOE_N_PROPS
};

static GParamSpec *bioe_properties[BIOE_N_PROPS];

static void
qmp_block_io_error_event_constructed (GObject *object)
{
  QmpBlockIoErrorEvent *self = QMP_BLOCK_IO_ERROR_EVENT (object);
  JsonObject *data;

  G_OBJECT_CLASS (qmp_block_io_error_event_parent_class)->constructed (object);

  data = qmp_event_get_data (QMP_EVENT (self));
  self->device = _qmp_json_get_string (data, "device");
  self->node_name = _qmp_json_get_string (data, "node-name");
  self->qom_path = _qmp_json_get_string (data, "qom-path");
  self->operation_string = _qmp_json_get_string (data, "operation");
  self->action_string = _qmp_json_get_string (data, "action");
  self->reason = _qmp_json_get_string (data, "reason");
  self->nospace = _qmp_json_get_boolean (data, "nospace", FALSE);
  self->operation = _qmp_json_enum_from_string (QMP_TYPE_IO_OPERATION, self->operation_string,
                                                QMP_IO_OPERATION_UNKNOWN, QMP_IO_OPERATION_UNKNOWN);
  self->action = _qmp_json_enum_from_string (QMP_TYPE_BLOCK_ERROR_ACTION, self->action_string,
                                             QMP_BLOCK_ERROR_ACTION_UNKNOWN,
                                             QMP_BLOCK_ERROR_ACTION_UNKNOWN);
}

static void
qmp_block_io_error_event_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  QmpBlockIoErrorEvent *self = QMP_BLOCK_IO_ERROR_EVENT (object);

  switch (prop_id)
    {
    case BIOE_PROP_DEVICE:
      g_value_set_string (value, self->device);
      break;
    case BIOE_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case BIOE_PROP_QOM_PATH:
      g_value_set_string (value, self->qom_path);
      break;
    case BIOE_PROP_OPERATION:
      g_value_set_enum (value, self->operation);
      break;
    case BIOE_PROP_OPERATION_STRING:
      g_value_set_string (value, self->operation_string);
      break;
    case BIOE_PROP_ACTION:
      g_value_set_enum (value, self->action);
      break;
    case BIOE_PROP_ACTION_STRING:
      g_value_set_string (value, self->action_string);
      break;
    case BIOE_PROP_NOSPACE:
      g_value_set_boolean (value, self->nospace);
      break;
    case BIOE_PROP_REASON:
      g_value_set_string (value, self->reason);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_block_io_error_event_class_init (QmpBlockIoErrorEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->constructed = qmp_block_io_error_event_constructed;
  object_class->get_property = qmp_block_io_error_event_get_property;

  /**
   * QmpBlockIoErrorEvent:device:
   *
   * The block backend's name: the `id` of `-drive`, the empty string for a
   * `-blockdev` disk; %NULL when QEMU sent none.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_DEVICE] =
    g_param_spec_string ("device", "Device", "Block backend name", NULL, flags);

  /**
   * QmpBlockIoErrorEvent:node-name:
   *
   * The node attached to the guest device (for a qcow2 disk, the qcow2
   * node, not the storage node that ran out of space); %NULL when QEMU
   * sent none.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Node attached to the device", NULL, flags);

  /**
   * QmpBlockIoErrorEvent:qom-path:
   *
   * The QOM path of the guest device, sent by QEMU 9.2 and later; %NULL
   * from older QEMUs.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_QOM_PATH] =
    g_param_spec_string ("qom-path", "QOM path", "QOM path of the device", NULL, flags);

  /**
   * QmpBlockIoErrorEvent:operation:
   *
   * Whether a read or a write failed.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_OPERATION] =
    g_param_spec_enum ("operation", "Operation", "Failed operation",
                       QMP_TYPE_IO_OPERATION, QMP_IO_OPERATION_UNKNOWN, flags);

  /**
   * QmpBlockIoErrorEvent:operation-string:
   *
   * The operation as QEMU spelled it; %NULL when absent.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_OPERATION_STRING] =
    g_param_spec_string ("operation-string", "Operation string", "Operation as sent", NULL, flags);

  /**
   * QmpBlockIoErrorEvent:action:
   *
   * What QEMU did: %QMP_BLOCK_ERROR_ACTION_STOP means the VM is paused.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_ACTION] =
    g_param_spec_enum ("action", "Action", "Action taken",
                       QMP_TYPE_BLOCK_ERROR_ACTION, QMP_BLOCK_ERROR_ACTION_UNKNOWN, flags);

  /**
   * QmpBlockIoErrorEvent:action-string:
   *
   * The action as QEMU spelled it; %NULL when absent.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_ACTION_STRING] =
    g_param_spec_string ("action-string", "Action string", "Action as sent", NULL, flags);

  /**
   * QmpBlockIoErrorEvent:nospace:
   *
   * %TRUE when the error is a full disk (ENOSPC). QEMU sends the member
   * only for devices whose error policy keeps an I/O status; it is %FALSE
   * when absent.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_NOSPACE] =
    g_param_spec_boolean ("nospace", "No space", "Storage is full", FALSE, flags);

  /**
   * QmpBlockIoErrorEvent:reason:
   *
   * QEMU's human-readable description of the error (the host's strerror);
   * %NULL when absent.
   *
   * Since: 1.0
   */
  bioe_properties[BIOE_PROP_REASON] =
    g_param_spec_string ("reason", "Reason", "Description of the error", NULL, flags);

  g_object_class_install_properties (object_class, BIOE_N_PROPS, bioe_properties);
}

static void
qmp_block_io_error_event_init (QmpBlockIoErrorEvent *self)
{
}

/**
 * qmp_block_io_error_event_get_device:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:device.
 *
 * Returns: (nullable): the block backend's name, "" for `-blockdev` disks
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_device (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->device;
}

/**
 * qmp_block_io_error_event_get_node_name:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:node-name.
 *
 * Returns: (nullable): the node attached to the device
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_node_name (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->node_name;
}

/**
 * qmp_block_io_error_event_get_qom_path:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:qom-path.
 *
 * Returns: (nullable): the device's QOM path (QEMU 9.2 and later)
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_qom_path (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->qom_path;
}

/**
 * qmp_block_io_error_event_get_operation:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:operation.
 *
 * Returns: the failed operation
 *
 * Since: 1.0
 */
QmpIoOperation
qmp_block_io_error_event_get_operation (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), QMP_IO_OPERATION_UNKNOWN);
  return event->operation;
}

/**
 * qmp_block_io_error_event_get_operation_string:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:operation-string.
 *
 * Returns: (nullable): the operation as QEMU spelled it
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_operation_string (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->operation_string;
}

/**
 * qmp_block_io_error_event_get_action:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:action.
 *
 * Returns: what QEMU did about the error
 *
 * Since: 1.0
 */
QmpBlockErrorAction
qmp_block_io_error_event_get_action (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), QMP_BLOCK_ERROR_ACTION_UNKNOWN);
  return event->action;
}

/**
 * qmp_block_io_error_event_get_action_string:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:action-string.
 *
 * Returns: (nullable): the action as QEMU spelled it
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_action_string (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->action_string;
}

/**
 * qmp_block_io_error_event_get_nospace:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:nospace.
 *
 * Returns: %TRUE if the storage is full
 *
 * Since: 1.0
 */
gboolean
qmp_block_io_error_event_get_nospace (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), FALSE);
  return event->nospace;
}

/**
 * qmp_block_io_error_event_get_reason:
 * @event: a #QmpBlockIoErrorEvent
 *
 * Gets #QmpBlockIoErrorEvent:reason.
 *
 * Returns: (nullable): QEMU's description of the error
 *
 * Since: 1.0
 */
const char *
qmp_block_io_error_event_get_reason (QmpBlockIoErrorEvent *event)
{
  g_return_val_if_fail (QMP_IS_BLOCK_IO_ERROR_EVENT (event), NULL);
  return event->reason;
}

/* ------------------------------------------------------------------------ */
/* QmpWriteThresholdEvent */

struct _QmpWriteThresholdEvent
{
  QmpEvent parent_instance;

  const char *node_name;        /* points into the sealed data */
  guint64 write_threshold;
  guint64 amount_exceeded;
};

G_DEFINE_FINAL_TYPE (QmpWriteThresholdEvent, qmp_write_threshold_event, QMP_TYPE_EVENT)

enum {
  WTE_PROP_0,
  WTE_PROP_NODE_NAME,
  WTE_PROP_WRITE_THRESHOLD,
  WTE_PROP_AMOUNT_EXCEEDED,
  WTE_PROP_END_OFFSET,
  WTE_N_PROPS
};

static GParamSpec *wte_properties[WTE_N_PROPS];

static void
qmp_write_threshold_event_constructed (GObject *object)
{
  QmpWriteThresholdEvent *self = QMP_WRITE_THRESHOLD_EVENT (object);
  JsonObject *data;

  G_OBJECT_CLASS (qmp_write_threshold_event_parent_class)->constructed (object);

  data = qmp_event_get_data (QMP_EVENT (self));
  self->node_name = _qmp_json_get_string (data, "node-name");
  self->write_threshold = _qmp_json_get_uint64 (data, "write-threshold", 0);
  self->amount_exceeded = _qmp_json_get_uint64 (data, "amount-exceeded",
                                                QMP_AMOUNT_EXCEEDED_UNKNOWN);
}

static void
qmp_write_threshold_event_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  QmpWriteThresholdEvent *self = QMP_WRITE_THRESHOLD_EVENT (object);

  switch (prop_id)
    {
    case WTE_PROP_NODE_NAME:
      g_value_set_string (value, self->node_name);
      break;
    case WTE_PROP_WRITE_THRESHOLD:
      g_value_set_uint64 (value, self->write_threshold);
      break;
    case WTE_PROP_AMOUNT_EXCEEDED:
      g_value_set_uint64 (value, self->amount_exceeded);
      break;
    case WTE_PROP_END_OFFSET:
      g_value_set_uint64 (value, qmp_write_threshold_event_get_end_offset (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_write_threshold_event_class_init (QmpWriteThresholdEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->constructed = qmp_write_threshold_event_constructed;
  object_class->get_property = qmp_write_threshold_event_get_property;

  /**
   * QmpWriteThresholdEvent:node-name:
   *
   * The node whose threshold was crossed; %NULL when QEMU sent none.
   *
   * Since: 1.0
   */
  wte_properties[WTE_PROP_NODE_NAME] =
    g_param_spec_string ("node-name", "Node name", "Node whose threshold was crossed",
                         NULL, flags);

  /**
   * QmpWriteThresholdEvent:write-threshold:
   *
   * The threshold that was crossed, in bytes (offsets of that node). QEMU
   * disarmed it: the node's threshold now reads 0.
   *
   * Since: 1.0
   */
  wte_properties[WTE_PROP_WRITE_THRESHOLD] =
    g_param_spec_uint64 ("write-threshold", "Write threshold", "Threshold crossed",
                         0, G_MAXUINT64, 0, flags);

  /**
   * QmpWriteThresholdEvent:amount-exceeded:
   *
   * How far the write that crossed the threshold went past it, in bytes:
   * the end of that write is #QmpWriteThresholdEvent:write-threshold plus
   * this. %QMP_AMOUNT_EXCEEDED_UNKNOWN for a derived event or when QEMU
   * sent none.
   *
   * Since: 1.0
   */
  wte_properties[WTE_PROP_AMOUNT_EXCEEDED] =
    g_param_spec_uint64 ("amount-exceeded", "Amount exceeded", "Bytes past the threshold",
                         0, G_MAXUINT64, QMP_AMOUNT_EXCEEDED_UNKNOWN, flags);

  /**
   * QmpWriteThresholdEvent:end-offset:
   *
   * Where the crossing write ended: the threshold plus the amount
   * exceeded, the least the node must be able to hold. Equal to the
   * threshold when the amount is unknown.
   *
   * Since: 1.0
   */
  wte_properties[WTE_PROP_END_OFFSET] =
    g_param_spec_uint64 ("end-offset", "End offset", "End of the crossing write",
                         0, G_MAXUINT64, 0, flags);

  g_object_class_install_properties (object_class, WTE_N_PROPS, wte_properties);
}

static void
qmp_write_threshold_event_init (QmpWriteThresholdEvent *self)
{
}

/**
 * qmp_write_threshold_event_get_node_name:
 * @event: a #QmpWriteThresholdEvent
 *
 * Gets #QmpWriteThresholdEvent:node-name.
 *
 * Returns: (nullable): the node whose threshold was crossed
 *
 * Since: 1.0
 */
const char *
qmp_write_threshold_event_get_node_name (QmpWriteThresholdEvent *event)
{
  g_return_val_if_fail (QMP_IS_WRITE_THRESHOLD_EVENT (event), NULL);
  return event->node_name;
}

/**
 * qmp_write_threshold_event_get_write_threshold:
 * @event: a #QmpWriteThresholdEvent
 *
 * Gets #QmpWriteThresholdEvent:write-threshold.
 *
 * Returns: the threshold that was crossed, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_write_threshold_event_get_write_threshold (QmpWriteThresholdEvent *event)
{
  g_return_val_if_fail (QMP_IS_WRITE_THRESHOLD_EVENT (event), 0);
  return event->write_threshold;
}

/**
 * qmp_write_threshold_event_get_amount_exceeded:
 * @event: a #QmpWriteThresholdEvent
 *
 * Gets #QmpWriteThresholdEvent:amount-exceeded.
 *
 * Returns: bytes past the threshold, or %QMP_AMOUNT_EXCEEDED_UNKNOWN
 *
 * Since: 1.0
 */
guint64
qmp_write_threshold_event_get_amount_exceeded (QmpWriteThresholdEvent *event)
{
  g_return_val_if_fail (QMP_IS_WRITE_THRESHOLD_EVENT (event), QMP_AMOUNT_EXCEEDED_UNKNOWN);
  return event->amount_exceeded;
}

/**
 * qmp_write_threshold_event_get_end_offset:
 * @event: a #QmpWriteThresholdEvent
 *
 * Gets #QmpWriteThresholdEvent:end-offset.
 *
 * Returns: where the crossing write ended, in bytes
 *
 * Since: 1.0
 */
guint64
qmp_write_threshold_event_get_end_offset (QmpWriteThresholdEvent *event)
{
  g_return_val_if_fail (QMP_IS_WRITE_THRESHOLD_EVENT (event), 0);
  if (event->amount_exceeded == QMP_AMOUNT_EXCEEDED_UNKNOWN ||
      event->amount_exceeded > G_MAXUINT64 - event->write_threshold)
    return event->write_threshold;
  return event->write_threshold + event->amount_exceeded;
}

/* ------------------------------------------------------------------------ */

/* The typed subclass of the events libqmpthin knows. */
static GType
event_type_for_name (const char *name)
{
  if (g_str_equal (name, "BLOCK_IO_ERROR"))
    return QMP_TYPE_BLOCK_IO_ERROR_EVENT;
  if (g_str_equal (name, "BLOCK_WRITE_THRESHOLD"))
    return QMP_TYPE_WRITE_THRESHOLD_EVENT;
  return QMP_TYPE_EVENT;
}

QmpEvent *
_qmp_event_new_full (const char *name,
                     gint64      timestamp_usec,
                     JsonObject *data,
                     gboolean    derived)
{
  return g_object_new (event_type_for_name (name),
                       "name", name,
                       "timestamp-usec", timestamp_usec,
                       "data", data,
                       "derived", derived,
                       NULL);
}

/**
 * qmp_event_new:
 * @name: the event's name
 * @timestamp_usec: when it happened, in microseconds since the Unix epoch,
 *   or -1 if unknown
 * @data: (nullable): the event's data; it is sealed
 *
 * Creates an event, of the typed subclass for the events libqmpthin knows
 * (a #QmpBlockIoErrorEvent for `BLOCK_IO_ERROR`, a #QmpWriteThresholdEvent
 * for `BLOCK_WRITE_THRESHOLD`). Clients create events themselves; this is
 * for tests and for programs that replay recorded traffic.
 *
 * Returns: (transfer full): a new #QmpEvent
 *
 * Since: 1.0
 */
QmpEvent *
qmp_event_new (const char *name,
               gint64      timestamp_usec,
               JsonObject *data)
{
  g_return_val_if_fail (name != NULL, NULL);

  return _qmp_event_new_full (name, timestamp_usec, data, FALSE);
}
