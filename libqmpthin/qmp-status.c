/* qmp-status.c: the run state of a VM, and pausing and resuming it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-status.h>

#include "qmp-json.h"

/**
 * SECTION:qmp-status
 * @Title: Run state
 * @Short_description: query-status, cont and stop
 *
 * qmp_client_query_status_async() tells whether the VM runs and, if not,
 * why: %QMP_RUN_STATE_IO_ERROR is a pause on a disk error (a full thin
 * disk among them), %QMP_RUN_STATE_PAUSED a `stop` from a client.
 * qmp_client_cont_async() resumes the VM, qmp_client_stop_async() pauses
 * it.
 *
 * qemu-storage-daemon has no run state: these commands fail there with
 * %QMP_COMMAND_ERROR_COMMAND_NOT_FOUND.
 */

struct _QmpStatusInfo
{
  GObject parent_instance;

  JsonObject *json;             /* owned, sealed */
  const char *status_string;    /* points into json */
  QmpRunState status;
  gboolean running;
};

G_DEFINE_FINAL_TYPE (QmpStatusInfo, qmp_status_info, G_TYPE_OBJECT)

enum {
  SI_PROP_0,
  SI_PROP_RUNNING,
  SI_PROP_STATUS,
  SI_PROP_STATUS_STRING,
  SI_N_PROPS
};

static GParamSpec *si_properties[SI_N_PROPS];

static void
qmp_status_info_finalize (GObject *object)
{
  QmpStatusInfo *self = QMP_STATUS_INFO (object);

  g_clear_pointer (&self->json, json_object_unref);
  G_OBJECT_CLASS (qmp_status_info_parent_class)->finalize (object);
}

static void
qmp_status_info_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QmpStatusInfo *self = QMP_STATUS_INFO (object);

  switch (prop_id)
    {
    case SI_PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    case SI_PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case SI_PROP_STATUS_STRING:
      g_value_set_string (value, self->status_string);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_status_info_class_init (QmpStatusInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_status_info_finalize;
  object_class->get_property = qmp_status_info_get_property;

  /**
   * QmpStatusInfo:running:
   *
   * Whether the VM's CPUs run.
   *
   * Since: 1.0
   */
  si_properties[SI_PROP_RUNNING] =
    g_param_spec_boolean ("running", "Running", "Whether the VM runs", FALSE, flags);

  /**
   * QmpStatusInfo:status:
   *
   * The VM's run state.
   *
   * Since: 1.0
   */
  si_properties[SI_PROP_STATUS] =
    g_param_spec_enum ("status", "Status", "Run state", QMP_TYPE_RUN_STATE,
                       QMP_RUN_STATE_UNKNOWN, flags);

  /**
   * QmpStatusInfo:status-string:
   *
   * The run state as QEMU spelled it (readable also when
   * #QmpStatusInfo:status is %QMP_RUN_STATE_UNKNOWN).
   *
   * Since: 1.0
   */
  si_properties[SI_PROP_STATUS_STRING] =
    g_param_spec_string ("status-string", "Status string", "Run state as sent", NULL, flags);

  g_object_class_install_properties (object_class, SI_N_PROPS, si_properties);
}

static void
qmp_status_info_init (QmpStatusInfo *self)
{
}

/**
 * qmp_status_info_new_from_json:
 * @object: the return value of `query-status`
 * @error: return location for a #GError
 *
 * Reads a `query-status` reply. `status` and `running` are required.
 * @object is sealed (made immutable): the result points into it.
 *
 * Returns: (transfer full): the status, or %NULL with a %QMP_ERROR_PROTOCOL
 *   error
 *
 * Since: 1.0
 */
QmpStatusInfo *
qmp_status_info_new_from_json (JsonObject  *object,
                               GError     **error)
{
  g_autoptr(QmpStatusInfo) self = NULL;
  JsonNode *running;

  g_return_val_if_fail (object != NULL, NULL);

  running = json_object_get_member (object, "running");
  if (_qmp_json_get_string (object, "status") == NULL || running == NULL ||
      !JSON_NODE_HOLDS_VALUE (running) || json_node_get_value_type (running) != G_TYPE_BOOLEAN)
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "The reply to query-status lacks a string status or a boolean running");
      return NULL;
    }

  self = g_object_new (QMP_TYPE_STATUS_INFO, NULL);
  self->json = json_object_ref (object);
  json_object_seal (self->json);
  self->running = json_node_get_boolean (running);
  self->status_string = _qmp_json_get_string (object, "status");
  self->status = _qmp_json_enum_from_string (QMP_TYPE_RUN_STATE, self->status_string,
                                             QMP_RUN_STATE_UNKNOWN, QMP_RUN_STATE_UNKNOWN);
  return g_steal_pointer (&self);
}

/**
 * qmp_status_info_get_running:
 * @info: a #QmpStatusInfo
 *
 * Gets #QmpStatusInfo:running.
 *
 * Returns: %TRUE if the VM runs
 *
 * Since: 1.0
 */
gboolean
qmp_status_info_get_running (QmpStatusInfo *info)
{
  g_return_val_if_fail (QMP_IS_STATUS_INFO (info), FALSE);
  return info->running;
}

/**
 * qmp_status_info_get_status:
 * @info: a #QmpStatusInfo
 *
 * Gets #QmpStatusInfo:status.
 *
 * Returns: the run state
 *
 * Since: 1.0
 */
QmpRunState
qmp_status_info_get_status (QmpStatusInfo *info)
{
  g_return_val_if_fail (QMP_IS_STATUS_INFO (info), QMP_RUN_STATE_UNKNOWN);
  return info->status;
}

/**
 * qmp_status_info_get_status_string:
 * @info: a #QmpStatusInfo
 *
 * Gets #QmpStatusInfo:status-string.
 *
 * Returns: the run state as QEMU spelled it
 *
 * Since: 1.0
 */
const char *
qmp_status_info_get_status_string (QmpStatusInfo *info)
{
  g_return_val_if_fail (QMP_IS_STATUS_INFO (info), NULL);
  return info->status_string;
}

/**
 * qmp_status_info_get_json:
 * @info: a #QmpStatusInfo
 *
 * Gives the whole reply, for members without a property.
 *
 * Returns: (transfer none): the sealed JSON object
 *
 * Since: 1.0
 */
JsonObject *
qmp_status_info_get_json (QmpStatusInfo *info)
{
  g_return_val_if_fail (QMP_IS_STATUS_INFO (info), NULL);
  return info->json;
}
