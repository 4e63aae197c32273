/* watch-thin.c: a C orchestrator in the small, on libqmpthin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   watch-thin ADDRESS NODE THRESHOLD
 *
 * Connects to QEMU, says why the VM is not running if it is not (even when
 * it paused before we connected), arms a write threshold on NODE (the
 * storage node of a thin disk) and reports, with the typed signals, when
 * the guest's writes cross it and when the VM pauses for lack of space.
 * Stays up across QEMU restarts. A real agent would grow the storage where
 * this prints "extend now" (see QmpThinMonitor, which does all of it).
 *
 *   cc watch-thin.c $(pkg-config --cflags --libs qmpthin-1.0)
 */

#include <stdlib.h>

#include <glib-unix.h>
#include <qmpthin/qmpthin.h>

typedef struct {
  const char *node;
  guint64 threshold;
} Watch;

static const char *
nick (GType type,
      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);

  return g_enum_get_value (klass, value)->value_nick;
}

static void
arm (QmpClient *client,
     Watch     *watch)
{
  g_autoptr(GError) error = NULL;

  if (qmp_client_set_write_threshold_sync (client, watch->node, watch->threshold, NULL, &error))
    g_print ("armed %s at %" G_GUINT64_FORMAT " bytes\n", watch->node, watch->threshold);
  else
    g_printerr ("cannot arm %s: %s\n", watch->node, error->message);
}

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              gpointer                user_data)
{
  g_print ("%s: writes reached %" G_GUINT64_FORMAT " bytes, past the threshold%s: extend now\n",
           qmp_write_threshold_event_get_node_name (event),
           qmp_write_threshold_event_get_end_offset (event),
           qmp_event_get_derived (QMP_EVENT (event)) ? " (while we were away)" : "");
}

static void
on_io_error (QmpClient            *client,
             QmpBlockIoErrorEvent *event,
             gpointer              user_data)
{
  const char *node = qmp_block_io_error_event_get_node_name (event);
  const char *reason = qmp_block_io_error_event_get_reason (event);

  g_print ("%s: %s%s\n", node != NULL ? node : "?", reason != NULL ? reason : "I/O error",
           qmp_event_get_derived (QMP_EVENT (event)) ? " (derived from QEMU's state)" : "");
}

static void
on_stop_reason (QmpClient     *client,
                QmpStopReason *reason,
                gpointer       user_data)
{
  g_autofree char *disks = g_strjoinv (", ", (char **) qmp_stop_reason_get_node_names (reason));

  g_print ("VM %s%s%s%s\n", nick (QMP_TYPE_STOP_KIND, qmp_stop_reason_get_kind (reason)),
           *disks ? " (" : "", disks, *disks ? ")" : "");
  if (qmp_stop_reason_get_kind (reason) == QMP_STOP_KIND_NOSPACE)
    g_print ("  paused for lack of space: extend, then cont\n");
}

static void
on_reconnected (QmpClient *client,
                gboolean   new_instance,
                gpointer   user_data)
{
  g_print ("reconnected%s\n", new_instance ? " to a new QEMU: arming again" : "");
  if (new_instance)
    arm (client, user_data);
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch;

  if (argc != 4)
    {
      g_printerr ("Usage: %s ADDRESS NODE THRESHOLD-BYTES\n", argv[0]);
      return 2;
    }
  watch.node = argv[2];
  watch.threshold = g_ascii_strtoull (argv[3], NULL, 10);

  loop = g_main_loop_new (NULL, FALSE);
  client = qmp_client_new (argv[1]);
  qmp_client_set_auto_reconnect (client, TRUE);
  g_signal_connect (client, "block-write-threshold", G_CALLBACK (on_threshold), &watch);
  g_signal_connect (client, "block-io-error", G_CALLBACK (on_io_error), &watch);
  g_signal_connect (client, "stop-reason-changed", G_CALLBACK (on_stop_reason), &watch);
  g_signal_connect (client, "reconnected", G_CALLBACK (on_reconnected), &watch);

  if (!qmp_client_connect_sync (client, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  /* What the connect found; ::stop-reason-changed tells what changes. */
  g_print ("QEMU %s\n", qmp_client_get_qemu_version (client));
  on_stop_reason (client, qmp_client_get_stop_reason (client), &watch);
  arm (client, &watch);

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);
  qmp_client_close_sync (client, NULL, NULL);
  return 0;
}
