/* qmp-event.c: an event QEMU sent
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-event.h>

#include "qmp-json.h"

/**
 * SECTION:qmp-event
 * @Title: QmpEvent
 * @Short_description: An event QEMU sent
 *
 * A #QmpEvent is one asynchronous notification from QEMU, as delivered by
 * the #QmpClient::event signal: its name (such as `STOP` or
 * `BLOCK_IO_ERROR`), the time QEMU stamped it with, and its data.
 *
 * Events are immutable: the data is a sealed #JsonObject that handlers may
 * read and keep a reference to, but not change.
 *
 * The #QmpEvent:derived flag is %TRUE for events the library synthesised
 * from QEMU's current state after a (re)connection, because QEMU does not
 * replay events that happened while no client was connected. Such events
 * tell what must have happened, not when: their timestamp is the time the
 * state was read.
 */

typedef struct
{
  char *name;
  gint64 timestamp_usec;
  GDateTime *timestamp;   /* created on first use */
  JsonObject *data;       /* sealed, never NULL */
  gboolean derived;
} QmpEventPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (QmpEvent, qmp_event, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_TIMESTAMP,
  PROP_TIMESTAMP_USEC,
  PROP_DATA,
  PROP_DERIVED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
qmp_event_finalize (GObject *object)
{
  QmpEventPrivate *priv = qmp_event_get_instance_private (QMP_EVENT (object));

  g_free (priv->name);
  g_clear_pointer (&priv->timestamp, g_date_time_unref);
  g_clear_pointer (&priv->data, json_object_unref);

  G_OBJECT_CLASS (qmp_event_parent_class)->finalize (object);
}

static void
qmp_event_constructed (GObject *object)
{
  QmpEventPrivate *priv = qmp_event_get_instance_private (QMP_EVENT (object));

  G_OBJECT_CLASS (qmp_event_parent_class)->constructed (object);

  if (priv->data == NULL)
    priv->data = json_object_new ();
  json_object_seal (priv->data);
}

static void
qmp_event_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  QmpEvent *self = QMP_EVENT (object);
  QmpEventPrivate *priv = qmp_event_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, priv->name);
      break;
    case PROP_TIMESTAMP:
      g_value_set_boxed (value, qmp_event_get_timestamp (self));
      break;
    case PROP_TIMESTAMP_USEC:
      g_value_set_int64 (value, priv->timestamp_usec);
      break;
    case PROP_DATA:
      g_value_set_boxed (value, priv->data);
      break;
    case PROP_DERIVED:
      g_value_set_boolean (value, priv->derived);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_event_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  QmpEventPrivate *priv = qmp_event_get_instance_private (QMP_EVENT (object));

  switch (prop_id)
    {
    case PROP_NAME:
      priv->name = g_value_dup_string (value);
      break;
    case PROP_TIMESTAMP_USEC:
      priv->timestamp_usec = g_value_get_int64 (value);
      break;
    case PROP_DATA:
      priv->data = g_value_dup_boxed (value);
      break;
    case PROP_DERIVED:
      priv->derived = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qmp_event_class_init (QmpEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = qmp_event_finalize;
  object_class->constructed = qmp_event_constructed;
  object_class->get_property = qmp_event_get_property;
  object_class->set_property = qmp_event_set_property;

  /**
   * QmpEvent:name:
   *
   * The event's name as QEMU sent it, e.g. `BLOCK_WRITE_THRESHOLD`.
   *
   * Since: 1.0
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", "Name", "Name", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpEvent:timestamp:
   *
   * When QEMU emitted the event (QEMU's host clock), in UTC, to the
   * microsecond; %NULL when QEMU could not read its clock.
   *
   * Since: 1.0
   */
  properties[PROP_TIMESTAMP] =
    g_param_spec_boxed ("timestamp", "Timestamp", "Timestamp", G_TYPE_DATE_TIME,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * QmpEvent:timestamp-usec:
   *
   * #QmpEvent:timestamp as microseconds since the Unix epoch, or -1 when
   * QEMU could not read its clock.
   *
   * Since: 1.0
   */
  properties[PROP_TIMESTAMP_USEC] =
    g_param_spec_int64 ("timestamp-usec", "Timestamp usec", "Timestamp usec", -1, G_MAXINT64, -1,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpEvent:data:
   *
   * The event's `data` member, sealed. Events without data (`STOP`,
   * `RESUME`) have an empty object, never %NULL.
   *
   * Since: 1.0
   */
  properties[PROP_DATA] =
    g_param_spec_boxed ("data", "Data", "Data", JSON_TYPE_OBJECT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * QmpEvent:derived:
   *
   * %TRUE when the library synthesised this event from QEMU's state after
   * a (re)connection instead of receiving it from QEMU.
   *
   * Since: 1.0
   */
  properties[PROP_DERIVED] =
    g_param_spec_boolean ("derived", "Derived", "Derived", FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
qmp_event_init (QmpEvent *self)
{
  QmpEventPrivate *priv = qmp_event_get_instance_private (self);

  priv->timestamp_usec = -1;
}

/**
 * qmp_event_get_name:
 * @event: a #QmpEvent
 *
 * Gets #QmpEvent:name.
 *
 * Returns: the event's name
 *
 * Since: 1.0
 */
const char *
qmp_event_get_name (QmpEvent *event)
{
  QmpEventPrivate *priv;

  g_return_val_if_fail (QMP_IS_EVENT (event), NULL);
  priv = qmp_event_get_instance_private (event);
  return priv->name;
}

/**
 * qmp_event_get_timestamp:
 * @event: a #QmpEvent
 *
 * Gets #QmpEvent:timestamp.
 *
 * Returns: (transfer none) (nullable): when QEMU emitted the event, in UTC
 *
 * Since: 1.0
 */
GDateTime *
qmp_event_get_timestamp (QmpEvent *event)
{
  QmpEventPrivate *priv;

  g_return_val_if_fail (QMP_IS_EVENT (event), NULL);
  priv = qmp_event_get_instance_private (event);

  if (priv->timestamp == NULL && priv->timestamp_usec >= 0)
    {
      g_autoptr(GDateTime) seconds =
        g_date_time_new_from_unix_utc (priv->timestamp_usec / G_USEC_PER_SEC);

      if (seconds != NULL)
        priv->timestamp = g_date_time_add (seconds, priv->timestamp_usec % G_USEC_PER_SEC);
    }
  return priv->timestamp;
}

/**
 * qmp_event_get_timestamp_usec:
 * @event: a #QmpEvent
 *
 * Gets #QmpEvent:timestamp-usec.
 *
 * Returns: microseconds since the Unix epoch, or -1 if unknown
 *
 * Since: 1.0
 */
gint64
qmp_event_get_timestamp_usec (QmpEvent *event)
{
  QmpEventPrivate *priv;

  g_return_val_if_fail (QMP_IS_EVENT (event), -1);
  priv = qmp_event_get_instance_private (event);
  return priv->timestamp_usec;
}

/**
 * qmp_event_get_data:
 * @event: a #QmpEvent
 *
 * Gets #QmpEvent:data.
 *
 * Returns: (transfer none): the event's data, sealed; an empty object for
 *   events without data
 *
 * Since: 1.0
 */
JsonObject *
qmp_event_get_data (QmpEvent *event)
{
  QmpEventPrivate *priv;

  g_return_val_if_fail (QMP_IS_EVENT (event), NULL);
  priv = qmp_event_get_instance_private (event);
  return priv->data;
}

/**
 * qmp_event_get_derived:
 * @event: a #QmpEvent
 *
 * Gets #QmpEvent:derived.
 *
 * Returns: %TRUE if the library synthesised the event after a
 *   (re)connection
 *
 * Since: 1.0
 */
gboolean
qmp_event_get_derived (QmpEvent *event)
{
  QmpEventPrivate *priv;

  g_return_val_if_fail (QMP_IS_EVENT (event), FALSE);
  priv = qmp_event_get_instance_private (event);
  return priv->derived;
}

/**
 * qmp_event_to_string:
 * @event: a #QmpEvent
 *
 * Serialises the event as one line of JSON in QEMU's wire format
 * (`event`, `data`, `timestamp`), with `"derived": true` added for
 * derived events. Handy for logs.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 1.0
 */
char *
qmp_event_to_string (QmpEvent *event)
{
  QmpEventPrivate *priv;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonNode *data;

  g_return_val_if_fail (QMP_IS_EVENT (event), NULL);
  priv = qmp_event_get_instance_private (event);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, priv->name);
  json_builder_set_member_name (builder, "data");
  data = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (data, priv->data);
  json_builder_add_value (builder, data);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_int_value (builder, priv->timestamp_usec >= 0 ? priv->timestamp_usec / G_USEC_PER_SEC : -1);
  json_builder_set_member_name (builder, "microseconds");
  json_builder_add_int_value (builder, priv->timestamp_usec >= 0 ? priv->timestamp_usec % G_USEC_PER_SEC : -1);
  json_builder_end_object (builder);
  if (priv->derived)
    {
      json_builder_set_member_name (builder, "derived");
      json_builder_add_boolean_value (builder, TRUE);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}
