/* qmp-status.c: print QEMU's state and follow its events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   qmp-status unix:/run/vm1/qmp.sock
 *
 * Connects, prints QEMU's version and run state, then prints every event
 * as one line of JSON until QEMU goes away or the program is interrupted.
 * Exit status: 0 when QEMU closed the connection or on SIGINT/SIGTERM,
 * 1 on an error, 2 on wrong usage.
 */

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
  g_autofree char *line = qmp_event_to_string (event);

  g_print ("%s\n", line);
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  App *app = user_data;

  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      g_printerr ("qmp-status: %s\n", error->message);
      app->status = EXIT_FAILURE;
    }
  else
    {
      g_printerr ("qmp-status: QEMU closed the connection\n");
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
  App app = { NULL, EXIT_SUCCESS };

  if (argc != 2)
    {
      g_printerr ("Usage: %s ADDRESS   (unix:PATH, /PATH or tcp:HOST:PORT)\n", argv[0]);
      return 2;
    }

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
  g_print ("QEMU %s (%s)\n", qmp_client_get_qemu_version (client),
           qmp_client_get_qemu_package (client) ? qmp_client_get_qemu_package (client) : "no package");

  status = qmp_client_query_status_sync (client, NULL, &error);
  if (status == NULL)
    {
      g_printerr ("qmp-status: query-status: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("status: %s (%s)\n", qmp_status_info_get_status_string (status),
           qmp_status_info_get_running (status) ? "running" : "paused");

  g_unix_signal_add (SIGINT, on_signal, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_main_loop_run (loop);
  return app.status;
}
