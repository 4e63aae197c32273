/* qmp-event.h: an event QEMU sent
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <qmpthin/qmp-version.h>

G_BEGIN_DECLS

/**
 * QMP_TYPE_EVENT:
 *
 * The #GType of #QmpEvent.
 *
 * Since: 1.0
 */
#define QMP_TYPE_EVENT (qmp_event_get_type ())

/**
 * QmpEvent:
 *
 * An event QEMU sent. The structure is opaque; see the properties.
 *
 * Since: 1.0
 */

QMP_AVAILABLE_IN_1_0
G_DECLARE_DERIVABLE_TYPE (QmpEvent, qmp_event, QMP, EVENT, GObject)

/**
 * QmpEventClass:
 * @parent_class: the parent class
 *
 * The class of #QmpEvent. Subclasses give typed access to the data of
 * the events a thin-provisioning agent acts on.
 *
 * Since: 1.0
 */
struct _QmpEventClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

QMP_AVAILABLE_IN_1_0
QmpEvent    *qmp_event_new                (const char *name,
                                           gint64      timestamp_usec,
                                           JsonObject *data);
QMP_AVAILABLE_IN_1_0
const char  *qmp_event_get_name           (QmpEvent   *event);
QMP_AVAILABLE_IN_1_0
GDateTime   *qmp_event_get_timestamp      (QmpEvent   *event);
QMP_AVAILABLE_IN_1_0
gint64       qmp_event_get_timestamp_usec (QmpEvent   *event);
QMP_AVAILABLE_IN_1_0
JsonObject  *qmp_event_get_data           (QmpEvent   *event);
QMP_AVAILABLE_IN_1_0
gboolean     qmp_event_get_derived        (QmpEvent   *event);
QMP_AVAILABLE_IN_1_0
char        *qmp_event_to_string          (QmpEvent   *event);

G_END_DECLS
