/* qmp-status.c: print QEMU's state and follow its events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   qmp-status unix:/run/vm1/qmp.sock
 *
 * Connects, prints QEMU's version and run state, then prints every event,
 * one line each (time in UTC, name, data as JSON), until QEMU goes away or
 * the program gets SIGINT or SIGTERM.
 *
 * Exit status: 0 when QEMU closed the connection or on SIGINT/SIGTERM,
 * 1 on an error, 2 on wrong usage.
 */

#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <qmpthin/qmpthin.h>

typedef struct {
  GMainLoop *loop;
  int status;
} App;

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  GDateTime *timestamp = qmp_event_get_timestamp (event);
  g_autoptr(JsonNode) data = json_node_init_object (json_node_alloc (), qmp_event_get_data (event));
  g_autofree char *when = timestamp ? g_date_time_format_iso8601 (timestamp) : g_strdup ("(no time)");
  g_autofree char *json = json_to_string (data, FALSE);

  g_print ("%s  %s  %s\n", when, qmp_event_get_name (event), json);
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  App *app = user_data;

  /* NULL: we closed it ourselves. */
  if (error == NULL)
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      g_printerr ("qmp-status: QEMU closed the connection\n");
    }
  else
    {
      g_printerr ("qmp-status: %s\n", error->message);
      app->status = EXIT_FAILURE;
    }
  g_main_loop_quit (app->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  App *app = user_data;

  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  const char *package;
  App app = { NULL, EXIT_SUCCESS };
  guint sigint_id, sigterm_id;

  if (argc != 2 || argv[1][0] == '-')
    {
      g_printerr ("Usage: %s ADDRESS   (unix:PATH, /PATH or tcp:HOST:PORT)\n", argv[0]);
      return 2;
    }

  /* One line per event, as it comes, also into a pipe or a file. */
  setvbuf (stdout, NULL, _IOLBF, 0);

  loop = g_main_loop_new (NULL, FALSE);
  app.loop = loop;
  client = qmp_client_new (argv[1]);
  g_signal_connect (client, "event", G_CALLBACK (on_event), NULL);
  g_signal_connect (client, "disconnected", G_CALLBACK (on_disconnected), &app);

  if (!qmp_client_connect_sync (client, NULL, &error))
    {
      g_printerr ("qmp-status: %s\n", error->message);
      return EXIT_FAILURE;
    }
  package = qmp_client_get_qemu_package (client);
  g_print ("QEMU %s%s%s%s\n", qmp_client_get_qemu_version (client),
           package && *package ? " (" : "", package ? package : "", package && *package ? ")" : "");

  status = qmp_client_query_status_sync (client, NULL, &error);
  if (status == NULL)
    {
      g_printerr ("qmp-status: query-status: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("status: %s%s\n", qmp_status_info_get_status_string (status),
           qmp_status_info_get_running (status) ? "" : " (not running)");

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &app);
  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  if (qmp_client_get_state (client) == QMP_CLIENT_STATE_READY)
    qmp_client_close_sync (client, NULL, NULL);
  return app.status;
}
