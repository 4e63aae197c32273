/* thin-extend.c: keep one thin disk big enough, with QmpThinMonitor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   thin-extend ADDRESS FILE_NODE LIMIT_NODE SIZE MAXIMUM CHUNK
 *
 * FILE_NODE is the storage node of a thin disk, SIZE bytes of storage now;
 * LIMIT_NODE is a raw node with size= over it, which this program grows
 * with blockdev-reopen, CHUNK bytes at a time up to MAXIMUM: QEMU then
 * behaves as with a logical volume grown with lvextend. A real agent grows
 * its own storage in on_extend_needed() and tells the monitor the same way.
 * The monitor arms the threshold, asks when the disk needs more, and
 * resumes the VM when it paused because the disk was full. It follows the
 * disk through snapshots, commits and mirrors (reading the graph every
 * 2 s, in case a threshold event was lost, too); this program only knows
 * how to grow FILE_NODE's storage, and says so when the disk moved to
 * storage it knows nothing of. SIGINT or SIGTERM ends the program with a
 * summary.
 *
 *   cc thin-extend.c $(pkg-config --cflags --libs qmpthin-1.0)
 */

#include <glib-unix.h>
#include <qmpthin/qmpthin.h>

typedef struct {
  QmpThinMonitor *monitor;
  const char     *file_node;
  const char     *limit_node;
  guint64         maximum;
  guint           n_extensions;
} Agent;

/* Grows the storage under @node to @size bytes: here a blockdev-reopen of
 * the raw node that limits it. blockdev-reopen resets every option it is
 * not given, so all of them are given. */
static gboolean
grow_storage (QmpClient   *client,
              Agent       *agent,
              const char  *node,
              guint64      size,
              GError     **error)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) options = json_array_new ();
  JsonObject *raw = json_object_new ();
  g_autoptr(JsonNode) reply = NULL;

  json_object_set_string_member (raw, "driver", "raw");
  json_object_set_string_member (raw, "node-name", agent->limit_node);
  json_object_set_string_member (raw, "file", node);
  json_object_set_int_member (raw, "size", (gint64) size);
  json_array_add_object_element (options, raw);
  json_object_set_array_member (arguments, "options", json_array_ref (options));

  reply = qmp_client_execute_sync (client, "blockdev-reopen", arguments, NULL, error);
  return reply != NULL;
}

static void
on_extend_needed (QmpThinMonitor  *monitor,
                  QmpThinDisk     *disk,
                  guint64          wanted_size,
                  QmpExtendReason  reason,
                  gpointer         user_data)
{
  Agent *agent = user_data;
  const char *node = qmp_thin_disk_get_node_name (disk);
  guint64 size = MIN (wanted_size, agent->maximum);
  g_autoptr(GError) error = NULL;

  g_print ("%s needs more storage (%s): %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " bytes\n",
           node, reason == QMP_EXTEND_REASON_THRESHOLD ? "threshold crossed"
                 : reason == QMP_EXTEND_REASON_NOSPACE ? "out of space, VM paused"
                 : "missed: while disconnected, or an event was lost",
           qmp_thin_disk_get_physical_size (disk), size);

  /* Synchronous here; calling qmp_thin_monitor_extended() later, from
   * another callback once the storage grew, works the same. */
  if (g_strcmp0 (node, agent->file_node) != 0)
    {
      /* A snapshot's overlay, a mirror's target: storage someone else
       * made, that only they can grow. */
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s is not storage this program manages", node);
      qmp_thin_monitor_extend_failed (monitor, node, error);
    }
  else if (size <= qmp_thin_disk_get_physical_size (disk))
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s is at its maximum size", node);
      qmp_thin_monitor_extend_failed (monitor, node, error);
    }
  else if (!grow_storage (qmp_thin_monitor_get_client (monitor), agent, node, size, &error))
    qmp_thin_monitor_extend_failed (monitor, node, error);
  else
    {
      agent->n_extensions++;
      qmp_thin_monitor_extended (monitor, node, size);
    }
  if (error)
    g_printerr ("cannot extend %s: %s\n", node, error->message);
}

static void
on_resumed (QmpThinMonitor *monitor,
            GParamSpec     *pspec,
            gpointer        user_data)
{
  g_print ("VM resumed after an extension\n");
}

static void
on_disk_moved (QmpThinMonitor *monitor,
               QmpThinDisk    *disk,
               const char     *previous_node,
               gpointer        user_data)
{
  g_print ("the disk moved from %s to %s (a snapshot, or a job's pivot)\n",
           previous_node, qmp_thin_disk_get_node_name (disk));
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
parse_size (const char *text,
            guint64    *size)
{
  return g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, size, NULL);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  guint64 size, chunk;
  Agent agent = { 0, };

  if (argc != 7 || !parse_size (argv[4], &size) || !parse_size (argv[5], &agent.maximum)
      || !parse_size (argv[6], &chunk))
    {
      g_printerr ("Usage: %s ADDRESS FILE_NODE LIMIT_NODE SIZE MAXIMUM CHUNK (sizes in bytes)\n",
                  argv[0]);
      return 2;
    }
  agent.file_node = argv[2];
  agent.limit_node = argv[3];

  loop = g_main_loop_new (NULL, FALSE);
  client = qmp_client_new (argv[1]);
  qmp_client_set_auto_reconnect (client, TRUE);

  /* The monitor is set up before connecting: it arms the threshold as
   * soon as the client is ready, and again after every reconnection. */
  monitor = agent.monitor = qmp_thin_monitor_new (client);
  qmp_thin_monitor_add_disk (monitor, argv[2], size, chunk, QMP_THIN_DEFAULT_FREE_PERCENT);
  qmp_thin_disk_set_maximum_size (qmp_thin_monitor_get_disk (monitor, argv[2]), agent.maximum);
  g_signal_connect (monitor, "extend-needed", G_CALLBACK (on_extend_needed), &agent);
  g_signal_connect (monitor, "notify::n-resumes", G_CALLBACK (on_resumed), &agent);
  g_signal_connect (monitor, "disk-moved", G_CALLBACK (on_disk_moved), &agent);
  /* vdsm's safety net: every disk's allocation read every 2 s. */
  qmp_thin_monitor_set_poll_interval (monitor, 2000);

  if (!qmp_client_connect_sync (client, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("watching %s on QEMU %s: threshold at %" G_GUINT64_FORMAT " bytes\n", argv[2],
           qmp_client_get_qemu_version (client),
           qmp_thin_compute_threshold (size, chunk, QMP_THIN_DEFAULT_FREE_PERCENT));

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  g_print ("%u extension(s), %u ENOSPC pause(s), %" G_GINT64_FORMAT " ms paused\n",
           agent.n_extensions, qmp_thin_monitor_get_n_nospace_pauses (monitor),
           qmp_thin_monitor_get_nospace_paused_usec (monitor) / 1000);
  qmp_client_close_sync (client, NULL, NULL);
  return 0;
}
