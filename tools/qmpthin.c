/* qmpthin.c: a command line tool for QEMU's QMP, on libqmpthin's public API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   qmpthin watch ADDRESS [--event NAME]... [--reconnect] [--graph] [--timing]
 *   qmpthin status ADDRESS [--json]
 *   qmpthin exec ADDRESS COMMAND [ARGUMENTS-JSON]
 *   qmpthin set-threshold ADDRESS NODE BYTES
 *
 * Exit status: 0 on success, 1 when something failed (QEMU's error class
 * and text on stderr), 2 on wrong usage.
 */

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <qmpthin/qmpthin.h>

#define EXIT_USAGE 2

static int timeout_ms = 10000;

static const GOptionEntry common_entries[] = {
  { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_ms,
    "Give up connecting, or waiting for a reply, after MS milliseconds (default 10000)", "MS" },
  { NULL }
};

/* ------------------------------------------------------------------------ */
/* Helpers */

static const char *
enum_nick (GType type,
           int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  return enum_value != NULL ? enum_value->value_nick : "unknown";
}

/* "qmpthin: WHAT: CLASS: MESSAGE": CLASS is QEMU's error class for what
 * QEMU refused, else the error's code ("not-found", "timed-out"...). */
static void
print_error (const char   *what,
             const GError *error)
{
  const char *class_name = NULL;

  if (error->domain == QMP_COMMAND_ERROR)
    class_name = qmp_command_error_get_class_name (error);
  else if (error->domain == G_IO_ERROR)
    class_name = enum_nick (G_TYPE_IO_ERROR_ENUM, error->code);
  else if (error->domain == QMP_ERROR)
    class_name = enum_nick (QMP_TYPE_ERROR, error->code);

  g_printerr ("qmpthin: %s%s%s%s%s\n", what ? what : "", what ? ": " : "",
              class_name ? class_name : "", class_name ? ": " : "", error->message);
}

static int
usage_error (GOptionContext *context,
             const char     *message)
{
  g_printerr ("qmpthin: %s\n", message);
  g_printerr ("Try “%s --help”.\n", g_get_prgname ());
  return EXIT_USAGE;
}

/* Parses the command's options; *status is set when the program should
 * stop there (--help printed, or wrong usage). */
static gboolean
parse_options (GOptionContext   *context,
               const GOptionEntry *entries,
               int              *argc,
               char           ***argv,
               int               min_args,
               int               max_args,
               int              *status)
{
  g_autoptr(GError) error = NULL;

  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, common_entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *status = usage_error (context, error->message);
      return FALSE;
    }
  /* argv[0] is the command. */
  if (*argc - 1 < min_args || *argc - 1 > max_args)
    {
      *status = usage_error (context, *argc - 1 < min_args ? "missing arguments" : "too many arguments");
      return FALSE;
    }
  if (timeout_ms < 0)
    {
      *status = usage_error (context, "--timeout must not be negative");
      return FALSE;
    }
  return TRUE;
}

static QmpClient *
connect_client (const char  *address,
                gboolean     reconnect,
                GError     **error)
{
  g_autoptr(QmpClient) client = qmp_client_new (address);

  qmp_client_set_connect_timeout (client, (guint) timeout_ms);
  qmp_client_set_command_timeout (client, (guint) timeout_ms);
  qmp_client_set_auto_reconnect (client, reconnect);
  if (!qmp_client_connect_sync (client, NULL, error))
    return NULL;
  return g_steal_pointer (&client);
}

/* Bytes with an optional binary suffix: 4096, 512K, 10M, 2G, 1T. */
static gboolean
parse_size (const char *text,
            guint64    *size)
{
  char *end = NULL;
  guint64 value, unit = 1;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  errno = 0;
  value = g_ascii_strtoull (text, &end, 10);
  if (errno != 0)
    return FALSE;
  switch (g_ascii_toupper (*end))
    {
    case '\0':
      break;
    case 'K':
      unit = G_GUINT64_CONSTANT (1) << 10;
      break;
    case 'M':
      unit = G_GUINT64_CONSTANT (1) << 20;
      break;
    case 'G':
      unit = G_GUINT64_CONSTANT (1) << 30;
      break;
    case 'T':
      unit = G_GUINT64_CONSTANT (1) << 40;
      break;
    default:
      return FALSE;
    }
  if (*end != '\0' && end[1] != '\0' && g_ascii_strcasecmp (end + 1, "iB") != 0 &&
      g_ascii_strcasecmp (end + 1, "B") != 0)
    return FALSE;
  if (value > G_MAXUINT64 / unit)
    return FALSE;
  *size = value * unit;
  return TRUE;
}

/* "512 B", "1.5 KiB", "10.0 MiB"... with plain spaces, for tables. */
static char *
format_size (guint64 bytes)
{
  const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  double value = bytes;
  gsize unit = 0;

  if (bytes < 1024)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " B", bytes);
  value /= 1024;
  while (value >= 1024 && unit + 1 < G_N_ELEMENTS (units))
    {
      value /= 1024;
      unit++;
    }
  return g_strdup_printf ("%.1f %s", value, units[unit]);
}

/* A guest device's short name: "/machine/peripheral/vd0/virtio-backend"
 * is "vd0". */
static char *
short_device (QmpBlockInfo *block)
{
  const char *device = qmp_block_info_get_device (block);
  const char *qdev = qmp_block_info_get_qdev (block);
  const char *prefix = "/machine/peripheral/";

  if (device != NULL && *device != '\0')
    return g_strdup (device);
  if (qdev == NULL)
    return g_strdup ("-");
  if (g_str_has_prefix (qdev, prefix))
    {
      const char *id = qdev + strlen (prefix);
      const char *end = strchr (id, '/');

      return end ? g_strndup (id, end - id) : g_strdup (id);
    }
  return g_strdup (qdev);
}

/* ------------------------------------------------------------------------ */
/* Reading the disks */

/* The file children of @stats, down to the storage: "fmt → lim → file". */
static QmpBlockStats *
find_stats (GPtrArray  *stats,
            const char *node_name)
{
  for (guint i = 0; node_name != NULL && i < stats->len; i++)
    if (g_strcmp0 (qmp_block_stats_get_node_name (stats->pdata[i]), node_name) == 0)
      return stats->pdata[i];
  return NULL;
}

/* The deepest file child: the storage node. */
static QmpBlockStats *
storage_of (QmpBlockStats *stats)
{
  while (stats != NULL && qmp_block_stats_get_parent (stats) != NULL)
    stats = qmp_block_stats_get_parent (stats);
  return stats;
}

/* The layer a device's guest writes: under the filter a running mirror or
 * commit puts over it (a node QEMU named, "#block123"). */
static QmpBlockStats *
active_layer (QmpBlockStats *stats)
{
  while (stats != NULL && g_str_has_prefix (qmp_block_stats_get_node_name (stats), "#") &&
         qmp_block_stats_get_backing (stats) != NULL)
    stats = qmp_block_stats_get_backing (stats);
  return stats;
}

/* ------------------------------------------------------------------------ */
/* watch */

typedef struct {
  GMainLoop *loop;
  GStrv events;                 /* nullable: all */
  int status;
  /* --graph */
  QmpClient *client;
  gboolean graph;
  gboolean reading;             /* a reading is in flight */
  gboolean again;               /* and another is wanted after it */
  guint n_waiting;
  GPtrArray *blocks;            /* of the reading in flight */
  GPtrArray *stats;
  JsonNode *jobs;
  char *last;                   /* the last graph line printed */
  /* --timing: from QEMU's timestamps alone */
  gboolean timing;
  gint64 stopped_at;            /* QEMU's time of the STOP of the pause in progress; 0: none */
  gint64 paused_usec;           /* the pauses that ended */
  guint n_pauses;
  gint64 paused_max;
  GHashTable *crossings;        /* node name -> Crossing, both owned */
} Watch;

/* The last threshold a node crossed: when (QEMU's time, the pauses taken
 * out), how far the write went, and the rate since the one before. */
typedef struct {
  gint64 at;
  guint64 allocation;
  guint64 rate;                 /* bytes/s; 0: not known yet */
} Crossing;

static void read_graph (Watch *watch);

static void
print_builder (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *line = json_to_string (root, FALSE);

  g_print ("%s\n", line);
}

/* --timing: what QEMU's events tell of the pauses and of how fast each
 * node's allocation grows. The agent's own phases (its back end, its
 * re-arming) are in its QmpThinMonitor, not on the wire. */
static void
watch_timing (Watch    *watch,
              QmpEvent *event)
{
  const char *name = qmp_event_get_name (event);
  gint64 at = qmp_event_get_timestamp_usec (event);
  g_autoptr(JsonBuilder) builder = NULL;

  if (!watch->timing || qmp_event_get_derived (event))
    return;
  if (g_str_equal (name, "STOP") && watch->stopped_at == 0)
    watch->stopped_at = at;
  else if (g_str_equal (name, "RESUME") && watch->stopped_at > 0)
    {
      gint64 paused = MAX (at - watch->stopped_at, 0);

      watch->stopped_at = 0;
      watch->paused_usec += paused;
      watch->paused_max = MAX (watch->paused_max, paused);
      watch->n_pauses++;
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "timing");
      json_builder_add_string_value (builder, "pause");
      json_builder_set_member_name (builder, "paused-usec");
      json_builder_add_int_value (builder, paused);
      json_builder_end_object (builder);
      print_builder (builder);
    }
  else if (QMP_IS_WRITE_THRESHOLD_EVENT (event))
    {
      QmpWriteThresholdEvent *crossed = QMP_WRITE_THRESHOLD_EVENT (event);
      const char *node = qmp_write_threshold_event_get_node_name (crossed);
      guint64 exceeded = qmp_write_threshold_event_get_amount_exceeded (crossed);
      guint64 allocation = qmp_write_threshold_event_get_write_threshold (crossed);
      gint64 running = at - watch->paused_usec;
      Crossing *last;

      if (node == NULL || exceeded == QMP_AMOUNT_EXCEEDED_UNKNOWN || exceeded > G_MAXUINT64 - allocation)
        return;
      allocation += exceeded;
      last = g_hash_table_lookup (watch->crossings, node);
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "timing");
      json_builder_add_string_value (builder, "threshold");
      json_builder_set_member_name (builder, "node-name");
      json_builder_add_string_value (builder, node);
      json_builder_set_member_name (builder, "allocation");
      json_builder_add_int_value (builder, (gint64) MIN (allocation, (guint64) G_MAXINT64));
      if (last != NULL && running > last->at && allocation > last->allocation)
        {
          last->rate = (guint64) ((double) (allocation - last->allocation) * G_USEC_PER_SEC / (running - last->at));
          json_builder_set_member_name (builder, "running-usec");
          json_builder_add_int_value (builder, running - last->at);
          json_builder_set_member_name (builder, "write-rate");
          json_builder_add_int_value (builder, (gint64) MIN (last->rate, (guint64) G_MAXINT64));
        }
      json_builder_end_object (builder);
      print_builder (builder);
      if (last == NULL)
        {
          last = g_new0 (Crossing, 1);
          g_hash_table_insert (watch->crossings, g_strdup (node), last);
        }
      last->at = running;
      last->allocation = allocation;
    }
}

/* --timing, at the end: the pauses, and each node's last rate. */
static void
watch_timing_summary (Watch *watch)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "timing");
  json_builder_add_string_value (builder, "summary");
  json_builder_set_member_name (builder, "pauses");
  json_builder_add_int_value (builder, watch->n_pauses);
  json_builder_set_member_name (builder, "paused-usec");
  json_builder_add_int_value (builder, watch->paused_usec);
  json_builder_set_member_name (builder, "max-paused-usec");
  json_builder_add_int_value (builder, watch->paused_max);
  json_builder_set_member_name (builder, "write-rate");
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, watch->crossings);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_int_value (builder, (gint64) MIN (((Crossing *) value)->rate, (guint64) G_MAXINT64));
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  print_builder (builder);
}

/* One line when the devices' layers or the block jobs changed:
 *   {"graph": [{"device": D, "node-name": N, "storage-node": S}...],
 *    "jobs": [{"id": I, "type": T, "status": S}...]} */
static void
graph_read (Watch *watch)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *line = NULL;
  JsonArray *jobs = watch->jobs != NULL && JSON_NODE_HOLDS_ARRAY (watch->jobs) ? json_node_get_array (watch->jobs) : NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "graph");
  json_builder_begin_array (builder);
  for (guint i = 0; watch->blocks != NULL && i < watch->blocks->len; i++)
    {
      QmpBlockInfo *block = watch->blocks->pdata[i];
      QmpBlockStats *layer = active_layer (find_stats (watch->stats, qmp_block_info_get_node_name (block)));
      QmpBlockStats *storage = storage_of (layer);
      g_autofree char *device = short_device (block);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, device);
      json_builder_set_member_name (builder, "node-name");
      json_builder_add_string_value (builder, layer ? qmp_block_stats_get_node_name (layer)
                                                    : qmp_block_info_get_node_name (block));
      json_builder_set_member_name (builder, "storage-node");
      json_builder_add_string_value (builder, storage ? qmp_block_stats_get_node_name (storage) : NULL);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "jobs");
  json_builder_begin_array (builder);
  for (guint i = 0; jobs != NULL && i < json_array_get_length (jobs); i++)
    {
      JsonObject *job = JSON_NODE_HOLDS_OBJECT (json_array_get_element (jobs, i))
                        ? json_array_get_object_element (jobs, i) : NULL;
      const char *members[] = { "device", "type", "status" };
      const char *names[] = { "id", "type", "status" };

      if (job == NULL)
        continue;
      json_builder_begin_object (builder);
      for (guint j = 0; j < G_N_ELEMENTS (members); j++)
        {
          json_builder_set_member_name (builder, names[j]);
          json_builder_add_string_value (builder, json_object_get_string_member_with_default (job, members[j], ""));
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  line = json_to_string (root, FALSE);
  if (g_strcmp0 (line, watch->last) != 0)
    {
      g_print ("%s\n", line);
      g_free (watch->last);
      watch->last = g_steal_pointer (&line);
    }
}

static void
graph_step (Watch *watch)
{
  if (--watch->n_waiting > 0)
    return;
  if (watch->blocks != NULL && watch->stats != NULL)
    graph_read (watch);
  g_clear_pointer (&watch->blocks, g_ptr_array_unref);
  g_clear_pointer (&watch->stats, g_ptr_array_unref);
  g_clear_pointer (&watch->jobs, json_node_unref);
  watch->reading = FALSE;
  if (watch->again)
    {
      watch->again = FALSE;
      read_graph (watch);
    }
}

static void
on_graph_blocks (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Watch *watch = user_data;

  watch->blocks = qmp_client_query_block_finish (QMP_CLIENT (source), result, NULL);
  graph_step (watch);
}

static void
on_graph_stats (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Watch *watch = user_data;

  watch->stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, NULL);
  graph_step (watch);
}

static void
on_graph_jobs (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Watch *watch = user_data;

  watch->jobs = qmp_client_execute_finish (QMP_CLIENT (source), result, NULL);
  graph_step (watch);
}

/* The three queries, pipelined; one more after it when asked meanwhile. */
static void
read_graph (Watch *watch)
{
  if (!watch->graph || qmp_client_get_state (watch->client) != QMP_CLIENT_STATE_READY)
    return;
  if (watch->reading)
    {
      watch->again = TRUE;
      return;
    }
  watch->reading = TRUE;
  watch->n_waiting = 3;
  qmp_client_query_block_async (watch->client, NULL, on_graph_blocks, watch);
  qmp_client_query_blockstats_async (watch->client, TRUE, NULL, on_graph_stats, watch);
  qmp_client_execute_async (watch->client, "query-block-jobs", NULL, NULL, on_graph_jobs, watch);
}

static gboolean
on_graph_timer (gpointer user_data)
{
  read_graph (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_watch_event (QmpClient *client,
                QmpEvent  *event,
                gpointer   user_data)
{
  Watch *watch = user_data;
  g_autofree char *line = NULL;

  /* A job's state, a snapshot, anything: the graph may have changed. */
  read_graph (watch);
  if (watch->events == NULL || g_strv_contains ((const char * const *) watch->events, qmp_event_get_name (event)))
    {
      line = qmp_event_to_string (event);
      g_print ("%s\n", line);
    }
  /* Whichever events are printed: the timing needs STOP, RESUME and the
   * thresholds. */
  watch_timing (watch, event);
}

/* Every name of @events is one of the events QEMU's schema has: a typo
 * would otherwise watch for nothing, silently. */
static gboolean
check_event_names (QmpClient  *client,
                   GStrv       events,
                   GError    **error)
{
  g_autoptr(JsonNode) schema = NULL;
  g_autoptr(GPtrArray) known = NULL;
  JsonArray *entries;

  if (events == NULL)
    return TRUE;
  schema = qmp_client_execute_sync (client, "query-qmp-schema", NULL, NULL, error);
  if (schema == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (schema))
    return TRUE;
  entries = json_node_get_array (schema);
  known = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonNode *entry = json_array_get_element (entries, i);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (entry) ? json_node_get_object (entry) : NULL;

      if (object != NULL && g_strcmp0 (json_object_get_string_member_with_default (object, "meta-type", NULL),
                                       "event") == 0)
        g_ptr_array_add (known, (gpointer) json_object_get_string_member_with_default (object, "name", ""));
    }
  g_ptr_array_add (known, NULL);
  for (guint i = 0; events[i] != NULL; i++)
    if (!g_strv_contains ((const char * const *) known->pdata, events[i]))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "QEMU %s has no event named “%s”", qmp_client_get_qemu_version (client), events[i]);
        return FALSE;
      }
  return TRUE;
}

static void
on_watch_disconnected (QmpClient *client,
                       GError    *error,
                       gpointer   user_data)
{
  Watch *watch = user_data;

  if (error == NULL)
    return;
  if (qmp_client_get_auto_reconnect (client))
    {
      g_printerr ("qmpthin: connection lost (%s); reconnecting\n", error->message);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      print_error ("connection lost", error);
      watch->status = EXIT_FAILURE;
    }
  g_main_loop_quit (watch->loop);
}

static void
on_watch_reconnected (QmpClient *client,
                      gboolean   new_instance,
                      gpointer   user_data)
{
  g_printerr ("qmpthin: reconnected%s\n", new_instance ? " to a new QEMU instance" : "");
  read_graph (user_data);
}

static gboolean
on_watch_signal (gpointer user_data)
{
  g_main_loop_quit (((Watch *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

static int
command_watch (int    argc,
               char **argv)
{
  g_auto(GStrv) events = NULL;
  gboolean reconnect = FALSE;
  gboolean graph = FALSE;
  gboolean timing = FALSE;
  int graph_interval = 2000;
  guint graph_timer = 0;
  const GOptionEntry entries[] = {
    { "event", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &events,
      "Print only events named NAME (repeat for more)", "NAME" },
    { "reconnect", 'r', 0, G_OPTION_ARG_NONE, &reconnect,
      "Stay up when the connection is lost (QEMU restarted): reconnect, and print what resync derived", NULL },
    { "graph", 'g', 0, G_OPTION_ARG_NONE, &graph,
      "Also print each device's active layer and storage node, and the block jobs, when they change", NULL },
    { "graph-interval", 0, 0, G_OPTION_ARG_INT, &graph_interval,
      "With --graph, read the graph every MS milliseconds too (default 2000; 0: on events only)", "MS" },
    { "timing", 't', 0, G_OPTION_ARG_NONE, &timing,
      "Also print each pause's length and each node's write rate, from QEMU's timestamps", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("ADDRESS - print QEMU's events as JSON lines");
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) crossings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Watch watch = { NULL, NULL, EXIT_SUCCESS, };
  guint sigint, sigterm;
  int status;

  g_option_context_set_description (context,
    "Prints every event QEMU sends, one JSON object per line, as it comes:\n"
    "  {\"event\": NAME, \"data\": {...}, \"timestamp\": {\"seconds\": S, \"microseconds\": US}}\n"
    "Events the client derived, because QEMU sent none (it happened while nobody\n"
    "was connected: a VM found paused on a full disk, a threshold that fired; or\n"
    "QEMU 9.2 and later held a BLOCK_IO_ERROR back), carry \"derived\": true, and\n"
    "their timestamp is when the client read QEMU's state: when they happened is\n"
    "unknown. Once connected, \"qmpthin: watching QEMU VERSION at ADDRESS\" goes to\n"
    "stderr. --event names must be events of the QEMU in front of it.\n"
    "\n"
    "With --graph, a line {\"graph\": [{\"device\": D, \"node-name\": N, \"storage-node\": S}],\n"
    "\"jobs\": [{\"id\": I, \"type\": T, \"status\": S}]} tells each guest device's active\n"
    "layer (under a job's filter) and its storage node, and the block jobs, once\n"
    "connected and whenever they change: a snapshot, a commit or a mirror and its\n"
    "pivot. A snapshot sends no event: the graph is read again every\n"
    "--graph-interval milliseconds too.\n"
    "\n"
    "With --timing, after each RESUME that ends a pause seen to begin,\n"
    "{\"timing\": \"pause\", \"paused-usec\": N}; after each BLOCK_WRITE_THRESHOLD,\n"
    "{\"timing\": \"threshold\", \"node-name\": N, \"allocation\": BYTES} with, from the\n"
    "node's second on, \"running-usec\" (since the last one, pauses taken out) and\n"
    "\"write-rate\" (bytes per second); at the end {\"timing\": \"summary\", \"pauses\": N,\n"
    "\"paused-usec\": N, \"max-paused-usec\": N, \"write-rate\": {NODE: RATE}}. All from\n"
    "QEMU's timestamps, whatever --event prints (derived events are left out). How long an\n"
    "agent's extensions take is in its QmpThinMonitor's timing, not on the wire.\n"
    "\n"
    "Ends when QEMU closes the connection (exit status 0), unless --reconnect,\n"
    "or on SIGINT or SIGTERM.\n"
    "\n"
    "ADDRESS is unix:PATH, a bare /PATH, or tcp:HOST:PORT.");
  if (!parse_options (context, entries, &argc, &argv, 1, 1, &status))
    return status;
  if (graph_interval < 0)
    {
      g_printerr ("qmpthin: --graph-interval must not be negative\n");
      return EXIT_USAGE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  watch.loop = loop;
  watch.events = events;
  watch.graph = graph;
  watch.timing = timing;
  watch.crossings = crossings;
  setvbuf (stdout, NULL, _IOLBF, 0);

  client = qmp_client_new (argv[1]);
  watch.client = client;
  qmp_client_set_connect_timeout (client, (guint) timeout_ms);
  qmp_client_set_auto_reconnect (client, reconnect);
  g_signal_connect (client, "event", G_CALLBACK (on_watch_event), &watch);
  g_signal_connect (client, "disconnected", G_CALLBACK (on_watch_disconnected), &watch);
  g_signal_connect (client, "reconnected", G_CALLBACK (on_watch_reconnected), &watch);
  if (!qmp_client_connect_sync (client, NULL, &error))
    {
      print_error ("connect", error);
      return EXIT_FAILURE;
    }
  if (!check_event_names (client, events, &error))
    {
      print_error ("--event", error);
      return EXIT_USAGE;
    }
  g_printerr ("qmpthin: watching QEMU %s at %s\n", qmp_client_get_qemu_version (client), argv[1]);

  read_graph (&watch);
  if (graph && graph_interval > 0)
    graph_timer = g_timeout_add ((guint) graph_interval, on_graph_timer, &watch);

  sigint = g_unix_signal_add (SIGINT, on_watch_signal, &watch);
  sigterm = g_unix_signal_add (SIGTERM, on_watch_signal, &watch);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (graph_timer != 0)
    g_source_remove (graph_timer);
  qmp_client_close_sync (client, NULL, NULL);
  /* Queries still in flight completed with the closing. */
  while (watch.reading)
    g_main_context_iteration (NULL, TRUE);
  g_free (watch.last);
  if (timing)
    watch_timing_summary (&watch);
  return watch.status;
}

/* ------------------------------------------------------------------------ */
/* status */

static guint64
node_threshold (GPtrArray  *nodes,
                const char *node_name)
{
  for (guint i = 0; nodes != NULL && node_name != NULL && i < nodes->len; i++)
    if (g_strcmp0 (qmp_block_node_get_node_name (nodes->pdata[i]), node_name) == 0)
      return qmp_block_node_get_write_threshold (nodes->pdata[i]);
  return 0;
}

/* io-status tells of an error while the VM is not paused on one: with
 * -blockdev, QEMU never resets it after a pause ended. */
static gboolean
io_status_stale (QmpStopReason *reason,
                 QmpBlockInfo  *block)
{
  QmpIoStatus io_status = qmp_block_info_get_io_status (block);
  QmpStopKind kind = qmp_stop_reason_get_kind (reason);

  return (io_status == QMP_IO_STATUS_NOSPACE || io_status == QMP_IO_STATUS_FAILED) &&
         kind != QMP_STOP_KIND_NOSPACE && kind != QMP_STOP_KIND_IO_ERROR;
}

static void
add_stop_reason (JsonBuilder   *builder,
                 QmpStopReason *reason)
{
  const char * const *nodes = qmp_stop_reason_get_node_names (reason);
  GPtrArray *disks = qmp_stop_reason_get_disks (reason);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, enum_nick (QMP_TYPE_STOP_KIND, qmp_stop_reason_get_kind (reason)));
  json_builder_set_member_name (builder, "nodes");
  json_builder_begin_array (builder);
  for (guint i = 0; nodes[i] != NULL; i++)
    json_builder_add_string_value (builder, nodes[i]);
  json_builder_end_array (builder);
  /* Each disk by every name QEMU gave it. */
  json_builder_set_member_name (builder, "disks");
  json_builder_begin_array (builder);
  for (guint i = 0; i < disks->len; i++)
    {
      QmpBlockInfo *disk = disks->pdata[i];

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "node-name");
      json_builder_add_string_value (builder, qmp_block_info_get_node_name (disk));
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, qmp_block_info_get_device (disk));
      json_builder_set_member_name (builder, "qom-path");
      json_builder_add_string_value (builder, qmp_block_info_get_qdev (disk));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "derived");
  json_builder_add_boolean_value (builder, qmp_stop_reason_get_derived (reason));
  json_builder_end_object (builder);
}

static int
command_status (int    argc,
                char **argv)
{
  gboolean as_json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "Print one JSON object instead of a table", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("ADDRESS - show the run state and the disks");
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) blocks = NULL;
  g_autoptr(GPtrArray) stats = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  QmpStopReason *reason;
  int status;

  g_option_context_set_description (context,
    "Prints QEMU's run state and why it is not running (the stop reason, derived\n"
    "from query-status and each disk's io-status when the VM paused before this\n"
    "connection), then one line per disk: device, node, io-status, the write\n"
    "threshold armed on its storage node, and how far that storage is allocated\n"
    "(wr_highest_offset). qemu-storage-daemon has no run state: its stop reason is\n"
    "\"not-applicable\".\n"
    "\n"
    "ADDRESS is unix:PATH, a bare /PATH, or tcp:HOST:PORT.");
  if (!parse_options (context, entries, &argc, &argv, 1, 1, &status))
    return status;

  client = connect_client (argv[1], FALSE, &error);
  if (client == NULL)
    {
      print_error ("connect", error);
      return EXIT_FAILURE;
    }
  reason = qmp_client_get_stop_reason (client);
  blocks = qmp_client_query_block_sync (client, NULL, &error);
  if (blocks == NULL &&
      g_error_matches (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND))
    {
      /* A server without block devices of its own. */
      g_clear_error (&error);
      blocks = g_ptr_array_new ();
    }
  else if (blocks == NULL)
    {
      print_error ("query-block", error);
      return EXIT_FAILURE;
    }
  stats = qmp_client_query_blockstats_sync (client, TRUE, NULL, &error);
  if (stats == NULL)
    {
      print_error ("query-blockstats", error);
      return EXIT_FAILURE;
    }
  nodes = qmp_client_query_named_block_nodes_sync (client, NULL, &error);
  if (nodes == NULL)
    {
      print_error ("query-named-block-nodes", error);
      return EXIT_FAILURE;
    }

  if (as_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "qemu");
      json_builder_add_string_value (builder, qmp_client_get_qemu_version (client));
      json_builder_set_member_name (builder, "run-state");
      if (qmp_stop_reason_get_run_state_string (reason) != NULL)
        json_builder_add_string_value (builder, qmp_stop_reason_get_run_state_string (reason));
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "stop-reason");
      add_stop_reason (builder, reason);
      json_builder_set_member_name (builder, "disks");
      json_builder_begin_array (builder);
      for (guint i = 0; i < blocks->len; i++)
        {
          QmpBlockInfo *block = blocks->pdata[i];
          QmpBlockStats *storage = storage_of (find_stats (stats, qmp_block_info_get_node_name (block)));
          const char *storage_name = storage ? qmp_block_stats_get_node_name (storage) : NULL;

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "device");
          json_builder_add_string_value (builder, qmp_block_info_get_device (block));
          json_builder_set_member_name (builder, "qdev");
          json_builder_add_string_value (builder, qmp_block_info_get_qdev (block));
          json_builder_set_member_name (builder, "node-name");
          json_builder_add_string_value (builder, qmp_block_info_get_node_name (block));
          json_builder_set_member_name (builder, "io-status");
          json_builder_add_string_value (builder, qmp_block_info_get_io_status_string (block)
                                                  ? qmp_block_info_get_io_status_string (block) : "none");
          json_builder_set_member_name (builder, "io-status-stale");
          json_builder_add_boolean_value (builder, io_status_stale (reason, block));
          json_builder_set_member_name (builder, "storage-node");
          json_builder_add_string_value (builder, storage_name);
          json_builder_set_member_name (builder, "write-threshold");
          json_builder_add_int_value (builder, (gint64) node_threshold (nodes, storage_name));
          json_builder_set_member_name (builder, "allocated");
          json_builder_add_int_value (builder, storage ? (gint64) qmp_block_stats_get_wr_highest_offset (storage) : 0);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "nodes");
      json_builder_begin_array (builder);
      for (guint i = 0; i < nodes->len; i++)
        {
          QmpBlockNode *node = nodes->pdata[i];
          QmpBlockStats *node_stats = find_stats (stats, qmp_block_node_get_node_name (node));

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "node-name");
          json_builder_add_string_value (builder, qmp_block_node_get_node_name (node));
          json_builder_set_member_name (builder, "driver");
          json_builder_add_string_value (builder, qmp_block_node_get_driver (node));
          json_builder_set_member_name (builder, "write-threshold");
          json_builder_add_int_value (builder, (gint64) qmp_block_node_get_write_threshold (node));
          json_builder_set_member_name (builder, "allocated");
          json_builder_add_int_value (builder, node_stats ? (gint64) qmp_block_stats_get_wr_highest_offset (node_stats) : 0);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      text = json_to_string (root, TRUE);
      g_print ("%s\n", text);
    }
  else
    {
      const char * const *paused_on = qmp_stop_reason_get_node_names (reason);
      g_autofree char *on = g_strjoinv (", ", (char **) paused_on);
      gboolean any_stale = FALSE;

      g_print ("QEMU %s\n", qmp_client_get_qemu_version (client));
      g_print ("run state:   %s\n", qmp_stop_reason_get_run_state_string (reason)
                                    ? qmp_stop_reason_get_run_state_string (reason) : "(none)");
      g_print ("stop reason: %s%s%s%s\n", enum_nick (QMP_TYPE_STOP_KIND, qmp_stop_reason_get_kind (reason)),
               *on ? " (" : "", on, *on ? ")" : "");
      if (blocks->len > 0)
        g_print ("\n%-16s %-16s %-10s %-16s %12s %12s\n",
                 "DEVICE", "NODE", "IO-STATUS", "STORAGE", "THRESHOLD", "ALLOCATED");
      for (guint i = 0; i < blocks->len; i++)
        {
          QmpBlockInfo *block = blocks->pdata[i];
          QmpBlockStats *storage = storage_of (find_stats (stats, qmp_block_info_get_node_name (block)));
          const char *storage_name = storage ? qmp_block_stats_get_node_name (storage) : NULL;
          guint64 threshold = node_threshold (nodes, storage_name);
          g_autofree char *threshold_text = threshold ? format_size (threshold) : g_strdup ("-");
          g_autofree char *allocated = storage ? format_size (qmp_block_stats_get_wr_highest_offset (storage))
                                               : g_strdup ("-");
          g_autofree char *device = short_device (block);
          gboolean stale = io_status_stale (reason, block);
          g_autofree char *io_status = g_strdup_printf ("%s%s", qmp_block_info_get_io_status_string (block)
                                                                ? qmp_block_info_get_io_status_string (block) : "-",
                                                        stale ? "*" : "");

          any_stale |= stale;
          g_print ("%-16s %-16s %-10s %-16s %12s %12s\n", device,
                   qmp_block_info_get_node_name (block) ? qmp_block_info_get_node_name (block) : "-",
                   io_status, storage_name ? storage_name : "-", threshold_text, allocated);
        }
      if (any_stale)
        g_print ("* the error of an earlier pause: QEMU keeps a -blockdev disk's io-status once the VM\n"
                 "  runs again, so it tells nothing about the disk now\n");
      /* No guest devices (qemu-storage-daemon, -machine none): the nodes. */
      if (blocks->len == 0 && nodes->len > 0)
        g_print ("\n%-24s %-10s %12s %12s\n", "NODE", "DRIVER", "THRESHOLD", "ALLOCATED");
      for (guint i = 0; blocks->len == 0 && i < nodes->len; i++)
        {
          QmpBlockNode *node = nodes->pdata[i];
          QmpBlockStats *node_stats = find_stats (stats, qmp_block_node_get_node_name (node));
          guint64 threshold = qmp_block_node_get_write_threshold (node);
          g_autofree char *threshold_text = threshold ? format_size (threshold) : g_strdup ("-");
          g_autofree char *allocated = node_stats ? format_size (qmp_block_stats_get_wr_highest_offset (node_stats))
                                                  : g_strdup ("-");

          g_print ("%-24s %-10s %12s %12s\n", qmp_block_node_get_node_name (node),
                   qmp_block_node_get_driver (node) ? qmp_block_node_get_driver (node) : "-",
                   threshold_text, allocated);
        }
    }
  qmp_client_close_sync (client, NULL, NULL);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* exec */

static int
command_exec (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("ADDRESS COMMAND [ARGUMENTS] - run a QMP command");
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) arguments = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autofree char *text = NULL;
  int status;

  g_option_context_set_description (context,
    "Runs COMMAND with ARGUMENTS, a JSON object, and prints what QEMU returned as\n"
    "JSON. QEMU's errors go to stderr as CLASS: TEXT, exit status 1. Example:\n"
    "  qmpthin exec unix:/run/vm1/qmp.sock block-set-write-threshold \\\n"
    "      '{\"node-name\": \"vda-file\", \"write-threshold\": 1073741824}'\n"
    "\n"
    "ADDRESS is unix:PATH, a bare /PATH, or tcp:HOST:PORT.");
  if (!parse_options (context, NULL, &argc, &argv, 2, 3, &status))
    return status;

  if (argc == 4)
    {
      arguments = json_from_string (argv[3], &error);
      if (arguments == NULL || !JSON_NODE_HOLDS_OBJECT (arguments))
        {
          g_printerr ("qmpthin: ARGUMENTS must be a JSON object%s%s\n",
                      error ? ": " : "", error ? error->message : "");
          return EXIT_USAGE;
        }
    }

  client = connect_client (argv[1], FALSE, &error);
  if (client == NULL)
    {
      print_error ("connect", error);
      return EXIT_FAILURE;
    }
  value = qmp_client_execute_sync (client, argv[2], arguments ? json_node_get_object (arguments) : NULL,
                                   NULL, &error);
  if (value == NULL)
    {
      print_error (argv[2], error);
      return EXIT_FAILURE;
    }
  text = json_to_string (value, TRUE);
  g_print ("%s\n", text);
  qmp_client_close_sync (client, NULL, NULL);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* set-threshold */

static int
command_set_threshold (int    argc,
                       char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("ADDRESS NODE BYTES - arm a write threshold");
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  guint64 bytes;
  int status;

  g_option_context_set_description (context,
    "Arms the write threshold of NODE (block-set-write-threshold): QEMU sends one\n"
    "BLOCK_WRITE_THRESHOLD event when a write goes past BYTES, then disarms it.\n"
    "BYTES may end in K, M, G or T (powers of 1024); 0 disarms.\n"
    "\n"
    "ADDRESS is unix:PATH, a bare /PATH, or tcp:HOST:PORT.");
  /* A negative size would be taken for an option, and not a known one. */
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-' && g_ascii_isdigit (argv[i][1]))
      {
        g_printerr ("qmpthin: “%s” is not a size in bytes: BYTES must not be negative\n", argv[i]);
        return EXIT_USAGE;
      }
  if (!parse_options (context, NULL, &argc, &argv, 3, 3, &status))
    return status;
  if (!parse_size (argv[3], &bytes))
    {
      g_printerr ("qmpthin: “%s” is not a size in bytes\n", argv[3]);
      return EXIT_USAGE;
    }

  client = connect_client (argv[1], FALSE, &error);
  if (client == NULL)
    {
      print_error ("connect", error);
      return EXIT_FAILURE;
    }
  if (!qmp_client_set_write_threshold_sync (client, argv[2], bytes, NULL, &error))
    {
      print_error ("block-set-write-threshold", error);
      return EXIT_FAILURE;
    }
  if (bytes == 0)
    g_print ("disarmed the write threshold of %s\n", argv[2]);
  else
    g_print ("armed %s at %" G_GUINT64_FORMAT " bytes\n", argv[2], bytes);
  qmp_client_close_sync (client, NULL, NULL);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "watch", command_watch, "Print QEMU's events as JSON lines" },
  { "status", command_status, "Show the run state, the stop reason and the disks" },
  { "exec", command_exec, "Run a QMP command and print its return value" },
  { "set-threshold", command_set_threshold, "Arm a write threshold on a node" },
};

static void
print_usage (FILE *to)
{
  fprintf (to,
           "Usage:\n"
           "  qmpthin COMMAND ADDRESS [ARGUMENTS...]\n"
           "\n"
           "Talk to QEMU's QMP monitor (QEMU Machine Protocol).\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (to, "  %-15s %s\n", commands[i].name, commands[i].summary);
  fprintf (to,
           "\n"
           "ADDRESS is unix:PATH, a bare /PATH, or tcp:HOST:PORT: QEMU's -qmp or\n"
           "-chardev socket,server=on with -mon mode=control. A QMP monitor serves one\n"
           "client at a time.\n"
           "\n"
           "“qmpthin COMMAND --help” tells more. Exit status: 0 on success, 1 when\n"
           "something failed (QEMU's error class and text on stderr), 2 on wrong usage.\n");
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      g_printerr ("qmpthin: no command given\n\n");
      print_usage (stderr);
      return EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_usage (stdout);
      return EXIT_SUCCESS;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      g_print ("qmpthin %s\n", QMP_VERSION_S);
      return EXIT_SUCCESS;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      {
        g_autofree char *prgname = g_strdup_printf ("qmpthin %s", commands[i].name);

        g_set_prgname (prgname);
        /* The command sees itself as argv[0]. */
        return commands[i].run (argc - 1, argv + 1);
      }

  g_printerr ("qmpthin: unknown command “%s”\n\n", argv[1]);
  print_usage (stderr);
  return EXIT_USAGE;
}
