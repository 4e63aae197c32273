/* qmp-stop-reason.c: why a VM is not running
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-stop-reason.h>

#include "qmp-json.h"
#include "qmp-models-private.h"

/**
 * SECTION:qmp-stop-reason
 * @Title: QmpStopReason
 * @Short_description: Why a VM is not running
 *
 * A #QmpStopReason says whether a VM runs and, if not, why: the
 * #QmpStopKind a host agent acts on (extend and resume for
 * %QMP_STOP_KIND_NOSPACE, leave alone for %QMP_STOP_KIND_PAUSED_BY_USER),
 * QEMU's run state, the disks involved and, when it can be known, since
 * when.
 *
 * A stop reason is immutable: when what it tells changes (its kind, the
 * run state, the disks) the client publishes a new one
 * (#QmpClient::stop-reason-changed).
 *
 * ## Live: events explain, QEMU's state decides
 *
 * A `STOP` comes after what announced it: the `BLOCK_IO_ERROR`s with
 * action `stop` of the failing requests (%QMP_STOP_KIND_NOSPACE when one
 * says `nospace`, else %QMP_STOP_KIND_IO_ERROR), a `WATCHDOG` or
 * `GUEST_PANICKED` whose action pauses the VM, a `SHUTDOWN`, or a stop
 * command of this client (%QMP_STOP_KIND_PAUSED_BY_USER). Such an event
 * explains that `STOP` only: a watchdog that reset the VM, or an error of
 * a pause that already ended, explains nothing later.
 *
 * QEMU 9.2 and later send at most one `BLOCK_IO_ERROR` a second per
 * device, the action `stop` included (until a fix of 2026): a VM that runs
 * out of space again within a second pauses with a `STOP` alone, and the
 * error comes up to a second later, with its original, older timestamp,
 * or never. A `STOP` nothing explains is published at once as
 * %QMP_STOP_KIND_UNKNOWN, and the client asks QEMU (`query-status` and
 * `query-block`, in one write): the answer, a few milliseconds later,
 * gives the reason (%QMP_STOP_KIND_NOSPACE naming the disks whose
 * io-status says `nospace`, %QMP_STOP_KIND_PAUSED_BY_USER for `paused`,
 * and so on) and a derived #QmpClient::block-io-error for each such disk.
 * An error that arrives while the VM is still paused refines the reason;
 * one timestamped before the last `RESUME` belongs to a pause that ended.
 *
 * The caller's own stop is always the caller's: its `STOP` comes before
 * its reply, also right after a `cont`. A stop acknowledged on a VM that
 * was paused already (on an I/O error, say: QEMU then sends no `STOP` and
 * keeps the run state) makes the pause %QMP_STOP_KIND_PAUSED_BY_USER, with
 * QEMU's run state, until the VM runs again, across reconnections while
 * QEMU keeps it paused.
 *
 * ## Resync: what a client can know after the fact
 *
 * QEMU does not replay events: an agent that restarts, loses its socket or
 * attaches to a running host has missed whatever happened meanwhile. So
 * after every negotiation, before it is %QMP_CLIENT_STATE_READY, the client
 * is %QMP_CLIENT_STATE_SYNCING: it reads `query-status` (sent together
 * with `qmp_capabilities`, so that a connection costs one round trip),
 * `query-block` when the VM is not running, and `query-named-block-nodes`
 * when it has thresholds to check. Events that arrive meanwhile are held, and delivered after what
 * the resync derived, in order.
 *
 * What it derives is flagged as derived, never mistaken for something
 * seen live (the reason by its #QmpStopReason:derived property, each event
 * by its #QmpEvent:derived property):
 *
 * - the stop reason, from the run state: `paused` is
 *   %QMP_STOP_KIND_PAUSED_BY_USER, `io-error` is %QMP_STOP_KIND_NOSPACE
 *   when a disk reports io-status `nospace`, else %QMP_STOP_KIND_IO_ERROR;
 * - one #QmpClient::block-io-error per disk whose io-status is `nospace`
 *   or `failed` while the VM is paused on an I/O error (its operation is
 *   unknown);
 * - one #QmpClient::block-write-threshold per threshold the client armed
 *   (with qmp_client_set_write_threshold_async() or any
 *   `block-set-write-threshold`, or declared with
 *   qmp_client_declare_write_threshold()) that now reads 0: it fired while
 *   nobody listened; by how much is unknown (%QMP_AMOUNT_EXCEEDED_UNKNOWN).
 *
 * What cannot be known: when the pause began (#QmpStopReason:since-usec is
 * -1 unless the client saw the `STOP`); which write crossed a threshold;
 * whether a disk that shows `nospace` with `-blockdev` is still full: QEMU
 * 7.2 never resets the io-status of an anonymous block backend, so it
 * stays `nospace` after a successful resume and a later error of another
 * kind still shows `nospace`. The client trusts io-status only while the
 * VM is paused on an I/O error; live, the `BLOCK_IO_ERROR` events that
 * come before a `STOP` decide, and a pause the client saw as an I/O error
 * stays %QMP_STOP_KIND_IO_ERROR across its reconnections while the VM
 * stays paused on an error (otherwise the caller would extend and resume
 * into the same error). A new client has no such memory: connecting to a
 * `-blockdev` VM paused on an EIO after an earlier ENOSPC, it reports
 * %QMP_STOP_KIND_NOSPACE, and the live event after the caller's `cont`
 * corrects it. The same holds live for a pause whose `BLOCK_IO_ERROR` QEMU
 * 9.2 or later throttled: until the error arrives, the answer to the
 * client's question goes by io-status. Another client's stop of a VM that
 * was paused already leaves no trace in what QEMU reports. A server
 * without run states (qemu-storage-daemon) has the stop reason
 * %QMP_STOP_KIND_NOT_APPLICABLE.
 *
 * ## Reconnection
 *
 * With #QmpClient:auto-reconnect a lost connection is tried again after
 * a delay that doubles from #QmpClient:reconnect-min-delay up to
 * #QmpClient:reconnect-max-delay, each a random value between half and
 * all of it. Commands in flight when the connection was lost fail once
 * with %G_IO_ERROR_CLOSED and are never sent again: whether QEMU ran them
 * is unknown. Every attempt goes through the whole resync; an attempt
 * that fails on the way (at the greeting, the negotiation or any resync
 * query) leaves the client %QMP_CLIENT_STATE_DISCONNECTED, emits nothing
 * and drops what it had read, and the next attempt starts over. The one
 * that succeeds emits, in this order: #QmpClient::stop-reason-changed if
 * the reason is not the one known before (the same pause found again keeps
 * the reason seen live, with its start), the derived events,
 * #QmpClient::reconnected, then the events QEMU sent during the resync.
 *
 * A QEMU that exited and was started again on the same UNIX socket is a
 * new instance (the socket file is a new one): #QmpClient::reconnected
 * says so, the thresholds the client had armed are forgotten without
 * derived events (they did not fire, they are gone), and the caller arms
 * them again. Over TCP a new instance cannot be told from the old one.
 */

struct _QmpStopReason
{
  GObject parent_instance;

  QmpStopKind kind;
  QmpRunState run_state;
  char *run_state_string;       /* owned, nullable */
  GStrv node_names;             /* owned, never NULL */
  GPtrArray *disks;             /* owned QmpBlockInfo, never NULL; as many as node_names */
  gint64 since_usec;
  gboolean derived;
};

G_DEFINE_FINAL_TYPE (QmpStopReason, qmp_stop_reason, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KIND,
  PROP_RUN_STATE,
  PROP_RUN_STATE_STRING,
  PROP_NODE_NAMES,
  PROP_SINCE_USEC,
  PROP_DERIVED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
qmp_stop_reason_finalize (GObject *object)
{
  QmpStopReason *self = QMP_STOP_REASON (object);

  g_free (self->run_state_string);
  g_strfreev (self->node_names);
  g_ptr_array_unref (self->disks);
  G_OBJECT_CLASS (qmp_stop_reason_parent_class)->finalize (object);
}

static void
qmp_stop_reason_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  QmpStopReason *self = QMP_STOP_REASON (object);

  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_RUN_STATE:
      g_value_set_enum (value, self->run_state);
      break;
    case PROP_RUN_STATE_STRING:
      g_value_set_string (value, self->run_state_string);
      break;
    case PROP_NODE_NAMES:
      g_value_set_boxed (value, self->node_names);
      break;
    case PROP_SINCE_USEC:
      g_value_set_int64 (value, self->since_usec);
      break;
    case PROP_DERIVED:
      g_value_set_boolean (value, self->derived);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_stop_reason_class_init (QmpStopReasonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = qmp_stop_reason_finalize;
  object_class->get_property = qmp_stop_reason_get_property;

  /**
   * QmpStopReason:kind:
   *
   * Why the VM is not running, or %QMP_STOP_KIND_RUNNING.
   *
   * Since: 1.0
   */
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", "Kind", "Why the VM is not running", QMP_TYPE_STOP_KIND,
                       QMP_STOP_KIND_UNKNOWN, flags);

  /**
   * QmpStopReason:run-state:
   *
   * QEMU's run state, %QMP_RUN_STATE_UNKNOWN when not known (or for a
   * server without run states).
   *
   * Since: 1.0
   */
  properties[PROP_RUN_STATE] =
    g_param_spec_enum ("run-state", "Run state", "QEMU's run state", QMP_TYPE_RUN_STATE,
                       QMP_RUN_STATE_UNKNOWN, flags);

  /**
   * QmpStopReason:run-state-string:
   *
   * The run state as QEMU spelled it; %NULL when not known.
   *
   * Since: 1.0
   */
  properties[PROP_RUN_STATE_STRING] =
    g_param_spec_string ("run-state-string", "Run state string", "Run state as sent",
                         NULL, flags);

  /**
   * QmpStopReason:node-names:
   *
   * The disks whose errors paused the VM, by the name of the node
   * attached to each device (the format node of a qcow2 disk), or, where
   * QEMU gave no node, its block backend or guest device; empty for other
   * kinds. qmp_stop_reason_get_disks() has each disk's every name.
   *
   * Since: 1.0
   */
  properties[PROP_NODE_NAMES] =
    g_param_spec_boxed ("node-names", "Node names", "Disks involved", G_TYPE_STRV, flags);

  /**
   * QmpStopReason:since-usec:
   *
   * When the VM stopped, in microseconds since the Unix epoch (QEMU's
   * timestamp of the `STOP` event), or -1 when the client did not see it
   * happen.
   *
   * Since: 1.0
   */
  properties[PROP_SINCE_USEC] =
    g_param_spec_int64 ("since-usec", "Since", "When the VM stopped", -1, G_MAXINT64, -1, flags);

  /**
   * QmpStopReason:derived:
   *
   * %TRUE when the reason was derived from QEMU's state after a
   * (re)connection rather than from events seen as they happened.
   *
   * Since: 1.0
   */
  properties[PROP_DERIVED] =
    g_param_spec_boolean ("derived", "Derived", "Derived from a resync", FALSE, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qmp_stop_reason_init (QmpStopReason *self)
{
  self->since_usec = -1;
}

/**
 * qmp_stop_reason_new:
 * @kind: why the VM is not running
 * @run_state: (nullable): QEMU's run state string, e.g. "io-error"
 * @node_names: (nullable) (array zero-terminated=1): the disks involved
 * @since_usec: when the VM stopped (microseconds since the epoch), or -1
 * @derived: whether the reason was derived after a (re)connection
 *
 * Creates a stop reason. Clients make their own; this is for tests and
 * for programs that restore a recorded state.
 *
 * Returns: (transfer full): a new #QmpStopReason
 *
 * Since: 1.0
 */
QmpStopReason *
qmp_stop_reason_new (QmpStopKind          kind,
                     const char          *run_state,
                     const char * const  *node_names,
                     gint64               since_usec,
                     gboolean             derived)
{
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; node_names != NULL && node_names[i] != NULL; i++)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      JsonObject *inserted = json_object_new ();

      json_object_set_string_member (object, "device", "");
      json_object_set_string_member (inserted, "node-name", node_names[i]);
      json_object_set_object_member (object, "inserted", inserted);
      g_ptr_array_add (disks, qmp_block_info_new_from_json (object, NULL));
    }
  return _qmp_stop_reason_new_for_disks (kind, run_state, disks, since_usec, derived);
}

/* The name of a disk in #QmpStopReason:node-names: its node, else its
 * block backend, else its guest device, whichever QEMU gave. */
static const char *
disk_name (QmpBlockInfo *disk)
{
  const char *name = qmp_block_info_get_node_name (disk);

  if (name == NULL || *name == '\0')
    name = qmp_block_info_get_device (disk);
  if (name == NULL || *name == '\0')
    name = qmp_block_info_get_qdev (disk);
  return name != NULL ? name : "";
}

/* @disks: (element-type QmpBlockInfo) (nullable): the disks involved. */
QmpStopReason *
_qmp_stop_reason_new_for_disks (QmpStopKind  kind,
                                const char  *run_state,
                                GPtrArray   *disks,
                                gint64       since_usec,
                                gboolean     derived)
{
  QmpStopReason *self = g_object_new (QMP_TYPE_STOP_REASON, NULL);
  guint n_disks = disks != NULL ? disks->len : 0;

  self->kind = kind;
  self->run_state_string = g_strdup (run_state);
  self->run_state = _qmp_json_enum_from_string (QMP_TYPE_RUN_STATE, run_state,
                                                QMP_RUN_STATE_UNKNOWN, QMP_RUN_STATE_UNKNOWN);
  self->disks = g_ptr_array_new_full (n_disks, g_object_unref);
  self->node_names = g_new0 (char *, n_disks + 1);
  for (guint i = 0; i < n_disks; i++)
    {
      g_ptr_array_add (self->disks, g_object_ref (disks->pdata[i]));
      self->node_names[i] = g_strdup (disk_name (disks->pdata[i]));
    }
  self->since_usec = since_usec < 0 ? -1 : since_usec;
  self->derived = derived;
  return self;
}

/* Whether @a and @b tell the same: the kind, the run state and the disks
 * (not when the pause began, nor how it was learnt). */
gboolean
_qmp_stop_reason_equal (QmpStopReason *a,
                        QmpStopReason *b)
{
  if (a->kind != b->kind || g_strcmp0 (a->run_state_string, b->run_state_string) != 0)
    return FALSE;
  return g_strv_equal ((const char * const *) a->node_names, (const char * const *) b->node_names);
}

/**
 * qmp_stop_reason_get_kind:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:kind.
 *
 * Returns: why the VM is not running
 *
 * Since: 1.0
 */
QmpStopKind
qmp_stop_reason_get_kind (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), QMP_STOP_KIND_UNKNOWN);
  return reason->kind;
}

/**
 * qmp_stop_reason_get_run_state:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:run-state.
 *
 * Returns: QEMU's run state
 *
 * Since: 1.0
 */
QmpRunState
qmp_stop_reason_get_run_state (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), QMP_RUN_STATE_UNKNOWN);
  return reason->run_state;
}

/**
 * qmp_stop_reason_get_run_state_string:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:run-state-string.
 *
 * Returns: (nullable): the run state as QEMU spelled it
 *
 * Since: 1.0
 */
const char *
qmp_stop_reason_get_run_state_string (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), NULL);
  return reason->run_state_string;
}

/**
 * qmp_stop_reason_get_node_names:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:node-names.
 *
 * Returns: (transfer none) (array zero-terminated=1): the disks involved
 *
 * Since: 1.0
 */
const char * const *
qmp_stop_reason_get_node_names (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), NULL);
  return (const char * const *) reason->node_names;
}

/**
 * qmp_stop_reason_get_disks:
 * @reason: a #QmpStopReason
 *
 * Gets the disks whose errors paused the VM, one #QmpBlockInfo each, in the
 * order of #QmpStopReason:node-names: the `query-block` entry when the
 * reason was read from QEMU's state, or what the `BLOCK_IO_ERROR` said
 * (its node, its block backend, its `qom-path` as #QmpBlockInfo:qdev, and
 * %QMP_IO_STATUS_NOSPACE or %QMP_IO_STATUS_FAILED) when it came from the
 * events. Use qmp_block_info_is_named() or
 * qmp_stop_reason_involves_disk() to match them, whichever way QEMU named
 * the disk.
 *
 * Returns: (transfer none) (element-type QmpBlockInfo): the disks
 *   involved; empty for kinds other than %QMP_STOP_KIND_NOSPACE and
 *   %QMP_STOP_KIND_IO_ERROR
 *
 * Since: 1.0
 */
GPtrArray *
qmp_stop_reason_get_disks (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), NULL);
  return reason->disks;
}

/**
 * qmp_stop_reason_involves_disk:
 * @reason: a #QmpStopReason
 * @name: a node name, a block backend name or a QOM path
 *
 * Tells whether one of the disks of @reason is @name (see
 * qmp_block_info_is_named()).
 *
 * Returns: %TRUE if @name is one of the disks involved
 *
 * Since: 1.0
 */
gboolean
qmp_stop_reason_involves_disk (QmpStopReason *reason,
                               const char    *name)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), FALSE);

  for (guint i = 0; i < reason->disks->len; i++)
    if (qmp_block_info_is_named (reason->disks->pdata[i], name))
      return TRUE;
  return FALSE;
}

/**
 * qmp_stop_reason_get_since_usec:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:since-usec.
 *
 * Returns: when the VM stopped, or -1 if unknown
 *
 * Since: 1.0
 */
gint64
qmp_stop_reason_get_since_usec (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), -1);
  return reason->since_usec;
}

/**
 * qmp_stop_reason_get_derived:
 * @reason: a #QmpStopReason
 *
 * Gets #QmpStopReason:derived.
 *
 * Returns: %TRUE if derived after a (re)connection
 *
 * Since: 1.0
 */
gboolean
qmp_stop_reason_get_derived (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), FALSE);
  return reason->derived;
}

/**
 * qmp_stop_reason_is_paused:
 * @reason: a #QmpStopReason
 *
 * Tells whether the VM is paused: not running, and a run state exists.
 *
 * Returns: %FALSE for %QMP_STOP_KIND_RUNNING and
 *   %QMP_STOP_KIND_NOT_APPLICABLE, %TRUE otherwise
 *
 * Since: 1.0
 */
gboolean
qmp_stop_reason_is_paused (QmpStopReason *reason)
{
  g_return_val_if_fail (QMP_IS_STOP_REASON (reason), FALSE);
  return reason->kind != QMP_STOP_KIND_RUNNING && reason->kind != QMP_STOP_KIND_NOT_APPLICABLE;
}

/**
 * qmp_stop_kind_from_run_state:
 * @run_state: a run state
 *
 * Maps a run state to the stop kind it implies alone. An `io-error` state
 * maps to %QMP_STOP_KIND_IO_ERROR: only the disks' errors can tell a full
 * disk (%QMP_STOP_KIND_NOSPACE) apart.
 *
 * Returns: the stop kind
 *
 * Since: 1.0
 */
QmpStopKind
qmp_stop_kind_from_run_state (QmpRunState run_state)
{
  switch (run_state)
    {
    case QMP_RUN_STATE_RUNNING:
      return QMP_STOP_KIND_RUNNING;
    case QMP_RUN_STATE_IO_ERROR:
      return QMP_STOP_KIND_IO_ERROR;
    case QMP_RUN_STATE_PAUSED:
      return QMP_STOP_KIND_PAUSED_BY_USER;
    case QMP_RUN_STATE_SHUTDOWN:
      return QMP_STOP_KIND_SHUTDOWN;
    case QMP_RUN_STATE_GUEST_PANICKED:
      return QMP_STOP_KIND_GUEST_PANICKED;
    case QMP_RUN_STATE_WATCHDOG:
      return QMP_STOP_KIND_WATCHDOG;
    case QMP_RUN_STATE_INMIGRATE:
    case QMP_RUN_STATE_POSTMIGRATE:
    case QMP_RUN_STATE_FINISH_MIGRATE:
    case QMP_RUN_STATE_COLO:
      return QMP_STOP_KIND_MIGRATION;
    case QMP_RUN_STATE_DEBUG:
      return QMP_STOP_KIND_DEBUG;
    case QMP_RUN_STATE_PRELAUNCH:
    case QMP_RUN_STATE_PRECONFIG:
      return QMP_STOP_KIND_PRELAUNCH;
    case QMP_RUN_STATE_SUSPENDED:
      return QMP_STOP_KIND_SUSPENDED;
    case QMP_RUN_STATE_INTERNAL_ERROR:
      return QMP_STOP_KIND_INTERNAL_ERROR;
    case QMP_RUN_STATE_RESTORE_VM:
    case QMP_RUN_STATE_SAVE_VM:
    case QMP_RUN_STATE_UNKNOWN:
    default:
      return QMP_STOP_KIND_UNKNOWN;
    }
}
