/* fake-qmp.c: a fast fake QMP server for the benchmarks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Speaks QMP as QEMU 7.2 does, byte for byte where it matters (greeting,
 * CRLF line ends, where "id" goes, the CommandNotFound texts), for any
 * number of clients in one single-threaded epoll loop, so that the server
 * is never what a benchmark measures:
 *
 *   fake-qmp --socket PATH          one listening socket, many clients
 *   fake-qmp --fleet DIR --vms N    DIR/vm-00000.sock … one socket per VM,
 *                                   and DIR/control.sock
 *
 * Besides the commands the client's resync and typed calls use, two
 * commands drive the benchmarks:
 *
 *   x-fake-blast {"count": K}       reply, then K events, as fast as the
 *                                   socket takes them (half
 *                                   BLOCK_WRITE_THRESHOLD, half
 *                                   BLOCK_IO_ERROR with nospace)
 *   x-fake-broadcast {"count": C}   C BLOCK_WRITE_THRESHOLD events to
 *                                   every other negotiated connection;
 *                                   returns {"connections": n}
 *   x-fake-counters                 what the server did since it started,
 *                                   over all connections: {"bytes-sent",
 *                                   "bytes-received", "commands",
 *                                   "cpu-us"} (its own user + system time)
 *
 * Every VM has the same disk, a qcow2 node on a raw node on a file node
 * (data-fmt, data-lim, data-file) under a virtio device: query-blockstats
 * with query-nodes and x-debug-query-block-graph answer as QEMU 7.2 does
 * for it.
 *
 * A socket file appears only once it listens (it is bound under a
 * temporary name and renamed), so a script may wait for the file. In
 * fleet mode control.sock is the last one made. SIGINT and SIGTERM
 * remove the socket files and exit.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* QEMU 7.2's greeting as Debian 12 ships it. */
#define GREETING \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, " \
  "\"package\": \"Debian 1:7.2+dfsg-7+deb12u7\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* How much one read asks for, and how much output a connection may have
 * generated ahead of what the socket took. */
#define READ_SIZE (64 * 1024)
#define OUTPUT_CHUNK (64 * 1024)
/* Writes per connection per loop turn: a blasting client must not starve
 * the others. */
#define WRITES_PER_TURN 8
/* A line longer than this from a client closes it (QEMU's limit is 10 MiB
 * too). */
#define MAX_LINE (10 * 1024 * 1024)

typedef struct _Vm Vm;

/* What an epoll event's data points to starts with one of these. */
typedef enum {
  TAG_LISTENER = 1,
  TAG_SIGNAL,
  TAG_CONNECTION,
} Tag;

/* One listening socket: a VM's monitor, or the fleet's control socket.
 * The thresholds and run state are the VM's, shared by its clients. */
struct _Vm
{
  int fd;
  char *path;                   /* owned: the socket file */
  gboolean running;
  guint64 threshold_fmt;        /* write threshold of node data-fmt */
  guint64 threshold_file;       /* write threshold of node data-file */
};

typedef struct
{
  Tag tag;
  int fd;
  Vm *vm;                       /* unowned: the socket it came from */
  guint index;                  /* in Server.connections */
  GByteArray *in;               /* owned: a partial line */
  GByteArray *out;              /* owned: bytes not yet written, from out_pos */
  gsize out_pos;
  gboolean negotiated;
  gboolean want_out;            /* EPOLLOUT is registered */
  guint64 blast_left;           /* events of x-fake-blast still to generate */
  guint64 blast_seq;
  gboolean closed;              /* freed at the end of the loop turn */
} Connection;

typedef struct
{
  int epoll_fd;
  int signal_fd;
  GPtrArray *vms;               /* Vm*, owned */
  GPtrArray *connections;       /* Connection*, owned, open ones */
  GPtrArray *closed;            /* Connection*, owned: closed during this loop turn */
  JsonParser *parser;
  char *read_buffer;
  gboolean quit;
  guint64 bytes_sent;           /* x-fake-counters */
  guint64 bytes_received;
  guint64 commands;
} Server;

static Tag signal_tag = TAG_SIGNAL;

typedef struct
{
  Tag tag;
  Vm *vm;
} Listener;

/* ------------------------------------------------------------------------ */
/* Output */

static void
set_want_out (Server     *server,
              Connection *conn,
              gboolean    want)
{
  struct epoll_event ev = { 0, };

  if (conn->want_out == want)
    return;
  conn->want_out = want;
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
  ev.data.ptr = conn;
  if (epoll_ctl (server->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev) < 0)
    g_error ("epoll_ctl: %s", g_strerror (errno));
}

static void
append (Connection *conn,
        const char *text,
        gsize       length)
{
  g_byte_array_append (conn->out, (const guint8 *) text, length);
}

static void
append_printf (Connection *conn,
               const char *format,
               ...) G_GNUC_PRINTF (2, 3);

static void
append_printf (Connection *conn,
               const char *format,
               ...)
{
  char stack[512];
  va_list args;
  int n;

  va_start (args, format);
  n = g_vsnprintf (stack, sizeof stack, format, args);
  va_end (args);
  if ((gsize) n < sizeof stack)
    {
      append (conn, stack, n);
      return;
    }
  {
    g_autofree char *text = NULL;

    va_start (args, format);
    text = g_strdup_vprintf (format, args);
    va_end (args);
    append (conn, text, n);
  }
}

/* QEMU's timestamp member, as it formats it. */
static void
append_timestamp (Connection *conn)
{
  gint64 now = g_get_real_time ();

  append_printf (conn, "{\"timestamp\": {\"seconds\": %" G_GINT64_FORMAT ", \"microseconds\": %"
                 G_GINT64_FORMAT "}, ", now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
}

static void
append_threshold_event (Connection *conn,
                        guint64     seq)
{
  append_timestamp (conn);
  append_printf (conn, "\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"node-name\": \"data-fmt\", "
                 "\"write-threshold\": 1048576, \"amount-exceeded\": %" G_GUINT64_FORMAT "}}\r\n",
                 65536 + (seq % 4096) * 512);
}

/* Fixture s3_enospc_pause-tcg-virtio, after the timestamp. */
#define IO_ERROR_REST \
  "\"event\": \"BLOCK_IO_ERROR\", \"data\": {\"device\": \"drive-data\", " \
  "\"nospace\": true, \"node-name\": \"data-fmt\", \"reason\": \"No space left on device\", " \
  "\"operation\": \"write\", \"action\": \"stop\"}}\r\n"

static void
append_io_error_event (Connection *conn)
{
  append_timestamp (conn);
  append (conn, IO_ERROR_REST, sizeof IO_ERROR_REST - 1);
}

/* Generates blast events until OUTPUT_CHUNK bytes wait or none are left. */
static void
refill_blast (Connection *conn)
{
  while (conn->blast_left > 0 && conn->out->len - conn->out_pos < OUTPUT_CHUNK)
    {
      if (conn->blast_seq % 2 == 0)
        append_threshold_event (conn, conn->blast_seq);
      else
        append_io_error_event (conn);
      conn->blast_seq++;
      conn->blast_left--;
    }
}

static void close_connection (Server     *server,
                              Connection *conn);

/* Writes what the socket takes, without blocking. Returns FALSE when the
 * connection was closed. */
static gboolean
flush (Server     *server,
       Connection *conn)
{
  if (conn->closed)
    return FALSE;
  for (guint i = 0; i < WRITES_PER_TURN; i++)
    {
      ssize_t n;

      refill_blast (conn);
      if (conn->out_pos == conn->out->len)
        break;
      n = send (conn->fd, conn->out->data + conn->out_pos, conn->out->len - conn->out_pos,
                MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0)
        {
          close_connection (server, conn);
          return FALSE;
        }
      conn->out_pos += n;
      server->bytes_sent += n;
      if (conn->out_pos == conn->out->len)
        {
          g_byte_array_set_size (conn->out, 0);
          conn->out_pos = 0;
        }
    }
  /* Keep the buffer from creeping: drop what was written. */
  if (conn->out_pos > OUTPUT_CHUNK)
    {
      g_byte_array_remove_range (conn->out, 0, conn->out_pos);
      conn->out_pos = 0;
    }
  set_want_out (server, conn, conn->out_pos < conn->out->len || conn->blast_left > 0);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Replies */

/* QEMU puts the id last in a return and first in an error. */
static void
reply_return (Connection *conn,
              const char *id,
              const char *value)
{
  if (id != NULL)
    append_printf (conn, "{\"return\": %s, \"id\": %s}\r\n", value, id);
  else
    append_printf (conn, "{\"return\": %s}\r\n", value);
}

static void
reply_error (Connection *conn,
             const char *id,
             const char *error_class,
             const char *desc)
{
  g_autofree char *quoted = NULL;
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, desc);
  quoted = json_to_string (node, FALSE);
  json_node_unref (node);
  if (id != NULL)
    append_printf (conn, "{\"id\": %s, \"error\": {\"class\": \"%s\", \"desc\": %s}}\r\n",
                   id, error_class, quoted);
  else
    append_printf (conn, "{\"error\": {\"class\": \"%s\", \"desc\": %s}}\r\n",
                   error_class, quoted);
}

static const char *const commands[] = {
  "qmp_capabilities",
  "query-status",
  "query-block",
  "query-blockstats",
  "query-named-block-nodes",
  "query-commands",
  "query-jobs",
  "block-set-write-threshold",
  "cont",
  "stop",
  "x-fake-blast",
  "x-fake-broadcast",
  "x-fake-counters",
  "x-debug-query-block-graph",
};

static char *
query_commands_json (void)
{
  GString *json = g_string_new ("[");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (json, "%s{\"name\": \"%s\"}", i ? ", " : "", commands[i]);
  g_string_append_c (json, ']');
  return g_string_free (json, FALSE);
}

/* The shapes of QEMU 7.2's replies for a virtio disk on a qcow2 image
 * (fixture s3_enospc_pause-tcg-virtio), with the VM's thresholds. */
static char *
block_node_json (const char *node_name,
                 const char *drv,
                 guint64     threshold)
{
  gboolean fmt = g_str_equal (drv, "qcow2");

  return g_strdup_printf ("{\"iops_rd\": 0, \"detect_zeroes\": \"off\", \"image\": {\"virtual-size\": %s, "
                          "\"filename\": \"/var/lib/vms/data.qcow2\", %s\"format\": \"%s\", "
                          "\"actual-size\": 2035712, %s\"dirty-flag\": false}, \"iops_wr\": 0, "
                          "\"ro\": false, \"node-name\": \"%s\", \"backing_file_depth\": 0, "
                          "\"drv\": \"%s\", \"iops\": 0, \"bps_wr\": 0, \"write_threshold\": %"
                          G_GUINT64_FORMAT ", \"encrypted\": false, \"bps\": 0, \"bps_rd\": 0, "
                          "\"cache\": {\"no-flush\": false, \"direct\": false, \"writeback\": true}, "
                          "\"file\": \"/var/lib/vms/data.qcow2\"}",
                          fmt ? "67108864" : "2097152",
                          fmt ? "\"cluster-size\": 65536, " : "",
                          fmt ? "qcow2" : "file",
                          fmt ? "\"format-specific\": {\"type\": \"qcow2\", \"data\": {\"compat\": \"1.1\", "
                                "\"compression-type\": \"zlib\", \"lazy-refcounts\": false, "
                                "\"refcount-bits\": 16, \"corrupt\": false, \"extended-l2\": false}}, " : "",
                          node_name, drv, threshold);
}

static char *
query_block_json (Vm *vm)
{
  g_autofree char *inserted = block_node_json ("data-fmt", "qcow2", vm->threshold_fmt);

  return g_strdup_printf ("[{\"io-status\": \"ok\", \"device\": \"\", \"locked\": false, "
                          "\"removable\": false, \"inserted\": %s, "
                          "\"qdev\": \"/machine/peripheral/datadisk/virtio-backend\", "
                          "\"type\": \"unknown\"}]", inserted);
}

static char *
query_named_block_nodes_json (Vm *vm)
{
  g_autofree char *fmt = block_node_json ("data-fmt", "qcow2", vm->threshold_fmt);
  g_autofree char *file = block_node_json ("data-file", "file", vm->threshold_file);

  return g_strdup_printf ("[%s, %s]", fmt, file);
}

#define STATS \
  "{\"unmap_operations\": 0, \"unmap_merged\": 0, \"flush_total_time_ns\": 0, " \
  "\"wr_highest_offset\": 2031616, \"wr_total_time_ns\": 0, \"failed_wr_operations\": 0, " \
  "\"failed_rd_operations\": 0, \"wr_merged\": 0, \"wr_bytes\": 2031616, \"timed_stats\": [], " \
  "\"failed_unmap_operations\": 0, \"failed_flush_operations\": 0, \"account_invalid\": false, " \
  "\"rd_total_time_ns\": 0, \"invalid_unmap_operations\": 0, \"flush_operations\": 0, " \
  "\"wr_operations\": 31, \"unmap_bytes\": 0, \"rd_merged\": 0, \"rd_bytes\": 0, " \
  "\"unmap_total_time_ns\": 0, \"invalid_flush_operations\": 0, \"account_failed\": false, " \
  "\"rd_operations\": 0, \"invalid_wr_operations\": 0, \"invalid_rd_operations\": 0}"

static const char query_blockstats_json[] =
  "[{\"device\": \"\", \"parent\": {\"stats\": " STATS ", \"node-name\": \"data-file\", "
  "\"driver-specific\": {\"discard-bytes-ok\": 0, \"discard-nb-ok\": 0, \"driver\": \"file\", "
  "\"discard-nb-failed\": 0}}, \"stats\": " STATS ", \"node-name\": \"data-fmt\", "
  "\"qdev\": \"/machine/peripheral/datadisk/virtio-backend\"}]";

/* With query-nodes, QEMU 7.2 lists every named node with the chain of its
 * file children, and names no device (node-name order as it answered). */
#define FILE_NODE \
  "{\"stats\": " STATS ", \"node-name\": \"data-file\", \"driver-specific\": " \
  "{\"discard-bytes-ok\": 0, \"discard-nb-ok\": 0, \"driver\": \"file\", \"discard-nb-failed\": 0}}"
#define LIM_NODE \
  "{\"parent\": " FILE_NODE ", \"stats\": " STATS ", \"node-name\": \"data-lim\"}"

static const char query_blockstats_nodes_json[] =
  "[" FILE_NODE ", " LIM_NODE ", {\"parent\": " LIM_NODE ", \"stats\": " STATS ", \"node-name\": \"data-fmt\"}]";

/* QEMU 7.2's x-debug-query-block-graph for the same disk. */
static const char block_graph_json[] =
  "{\"edges\": [{\"name\": \"file\", \"parent\": 2, \"shared-perm\": [\"write-unchanged\", \"consistent-read\"], "
  "\"perm\": [\"resize\", \"write\", \"consistent-read\"], \"child\": 4}, "
  "{\"name\": \"file\", \"parent\": 4, \"shared-perm\": [\"write-unchanged\", \"consistent-read\"], "
  "\"perm\": [\"resize\", \"write\", \"consistent-read\"], \"child\": 3}, "
  "{\"name\": \"root\", \"parent\": 1, \"shared-perm\": [\"resize\", \"write-unchanged\", \"consistent-read\"], "
  "\"perm\": [\"write\", \"consistent-read\"], \"child\": 2}], "
  "\"nodes\": [{\"name\": \"data-fmt\", \"type\": \"block-driver\", \"id\": 2}, "
  "{\"name\": \"data-lim\", \"type\": \"block-driver\", \"id\": 4}, "
  "{\"name\": \"data-file\", \"type\": \"block-driver\", \"id\": 3}, "
  "{\"name\": \"/machine/peripheral/datadisk/virtio-backend\", \"type\": \"block-backend\", \"id\": 1}]}";

static gint64
get_count (JsonObject *arguments)
{
  JsonNode *node = arguments ? json_object_get_member (arguments, "count") : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return -1;
  return json_node_get_int (node);
}

static void
send_run_state_event (Server     *server,
                      Vm         *vm,
                      const char *name)
{
  for (guint i = 0; i < server->connections->len; i++)
    {
      Connection *other = server->connections->pdata[i];

      if (other->vm != vm || !other->negotiated)
        continue;
      append_timestamp (other);
      append_printf (other, "\"event\": \"%s\"}\r\n", name);
      if (!flush (server, other))
        i--;
    }
}

static void
broadcast (Server     *server,
           Connection *sender,
           gint64      count,
           guint      *n_reached)
{
  *n_reached = 0;
  for (guint i = 0; i < server->connections->len; i++)
    {
      Connection *other = server->connections->pdata[i];

      if (other == sender || !other->negotiated)
        continue;
      for (gint64 k = 0; k < count; k++)
        append_threshold_event (other, k);
      (*n_reached)++;
      /* Closing swaps the last connection into this slot. */
      if (!flush (server, other))
        i--;
    }
}

static void
execute (Server     *server,
         Connection *conn,
         const char *command,
         JsonObject *arguments,
         const char *id)
{
  Vm *vm = conn->vm;

  if (!conn->negotiated)
    {
      if (g_str_equal (command, "qmp_capabilities"))
        {
          conn->negotiated = TRUE;
          reply_return (conn, id, "{}");
        }
      else
        {
          reply_error (conn, id, "CommandNotFound",
                       "Expecting capabilities negotiation with 'qmp_capabilities'");
        }
      return;
    }

  if (g_str_equal (command, "qmp_capabilities"))
    reply_error (conn, id, "CommandNotFound",
                 "Capabilities negotiation is already complete, command ignored");
  else if (g_str_equal (command, "query-status"))
    reply_return (conn, id, vm->running ?
                  "{\"status\": \"running\", \"singlestep\": false, \"running\": true}" :
                  "{\"status\": \"paused\", \"singlestep\": false, \"running\": false}");
  else if (g_str_equal (command, "query-jobs"))
    reply_return (conn, id, "[]");
  else if (g_str_equal (command, "query-commands"))
    {
      g_autofree char *json = query_commands_json ();

      reply_return (conn, id, json);
    }
  else if (g_str_equal (command, "query-block"))
    {
      g_autofree char *json = query_block_json (vm);

      reply_return (conn, id, json);
    }
  else if (g_str_equal (command, "query-named-block-nodes"))
    {
      g_autofree char *json = query_named_block_nodes_json (vm);

      reply_return (conn, id, json);
    }
  else if (g_str_equal (command, "query-blockstats"))
    reply_return (conn, id, arguments != NULL &&
                  json_object_get_boolean_member_with_default (arguments, "query-nodes", FALSE) ?
                  query_blockstats_nodes_json : query_blockstats_json);
  else if (g_str_equal (command, "x-debug-query-block-graph"))
    reply_return (conn, id, block_graph_json);
  else if (g_str_equal (command, "block-set-write-threshold"))
    {
      const char *node = arguments ? json_object_get_string_member_with_default (arguments, "node-name", NULL) : NULL;
      gint64 threshold = arguments ? json_object_get_int_member_with_default (arguments, "write-threshold", -1) : -1;

      if (node == NULL || threshold < 0)
        reply_error (conn, id, "GenericError", "Parameter 'node-name' is missing");
      else if (g_str_equal (node, "data-fmt"))
        {
          vm->threshold_fmt = threshold;
          reply_return (conn, id, "{}");
        }
      else if (g_str_equal (node, "data-file"))
        {
          vm->threshold_file = threshold;
          reply_return (conn, id, "{}");
        }
      else
        {
          g_autofree char *desc = g_strdup_printf ("Device '%s' not found", node);

          reply_error (conn, id, "GenericError", desc);
        }
    }
  else if (g_str_equal (command, "cont") || g_str_equal (command, "stop"))
    {
      gboolean run = g_str_equal (command, "cont");

      reply_return (conn, id, "{}");
      if (vm->running != run)
        {
          vm->running = run;
          send_run_state_event (server, vm, run ? "RESUME" : "STOP");
        }
    }
  else if (g_str_equal (command, "x-fake-blast"))
    {
      gint64 count = get_count (arguments);

      if (count < 0)
        {
          reply_error (conn, id, "GenericError", "Parameter 'count' is missing");
          return;
        }
      reply_return (conn, id, "{}");
      conn->blast_left += count;
    }
  else if (g_str_equal (command, "x-fake-counters"))
    {
      struct rusage ru;
      char value[256];

      getrusage (RUSAGE_SELF, &ru);
      g_snprintf (value, sizeof value, "{\"bytes-sent\": %" G_GUINT64_FORMAT ", \"bytes-received\": %"
                  G_GUINT64_FORMAT ", \"commands\": %" G_GUINT64_FORMAT ", \"cpu-us\": %" G_GINT64_FORMAT "}",
                  server->bytes_sent, server->bytes_received, server->commands,
                  (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
                  ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
      reply_return (conn, id, value);
    }
  else if (g_str_equal (command, "x-fake-broadcast"))
    {
      gint64 count = get_count (arguments);
      char value[64];
      guint n;

      if (count < 0)
        {
          reply_error (conn, id, "GenericError", "Parameter 'count' is missing");
          return;
        }
      broadcast (server, conn, count, &n);
      g_snprintf (value, sizeof value, "{\"connections\": %u}", n);
      reply_return (conn, id, value);
    }
  else
    {
      g_autofree char *desc = g_strdup_printf ("The command %s has not been found", command);

      reply_error (conn, id, "CommandNotFound", desc);
    }
}

static void
handle_line (Server     *server,
             Connection *conn,
             const char *line,
             gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  JsonNode *root, *node;
  JsonObject *request, *arguments = NULL;
  const char *command = NULL;

  while (length > 0 && (line[length - 1] == '\r' || line[length - 1] == ' '))
    length--;
  if (length == 0)
    return;
  if (!json_parser_load_from_data (server->parser, line, length, &error))
    {
      reply_error (conn, NULL, "GenericError", "JSON parse error, invalid token");
      return;
    }
  root = json_parser_get_root (server->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      reply_error (conn, NULL, "GenericError", "QMP input must be a JSON object");
      return;
    }
  request = json_node_get_object (root);
  if ((node = json_object_get_member (request, "id")) != NULL)
    id = json_to_string (node, FALSE);
  node = json_object_get_member (request, "execute");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    command = json_node_get_string (node);
  if (command == NULL)
    {
      reply_error (conn, id, "GenericError", "QMP input lacks member 'execute'");
      return;
    }
  server->commands++;
  node = json_object_get_member (request, "arguments");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    arguments = json_node_get_object (node);
  execute (server, conn, command, arguments, id);
}

/* ------------------------------------------------------------------------ */
/* Connections */

static void
close_connection (Server     *server,
                  Connection *conn)
{
  Connection *last = g_ptr_array_index (server->connections, server->connections->len - 1);

  /* Closing the fd takes it out of the epoll set; the events of this loop
   * turn may still name the connection, so it is freed at its end. */
  close (conn->fd);
  conn->closed = TRUE;
  last->index = conn->index;
  g_ptr_array_remove_index_fast (server->connections, conn->index);
  g_ptr_array_add (server->closed, conn);
}

static void
connection_free (Connection *conn)
{
  g_byte_array_unref (conn->in);
  g_byte_array_unref (conn->out);
  g_free (conn);
}

static void
on_readable (Server     *server,
             Connection *conn)
{
  ssize_t n = recv (conn->fd, server->read_buffer, READ_SIZE, 0);
  const char *data = server->read_buffer;
  const char *end, *nl;

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0)
    {
      close_connection (server, conn);
      return;
    }

  server->bytes_received += n;
  end = data + n;
  while (!conn->closed && (nl = memchr (data, '\n', end - data)) != NULL)
    {
      if (conn->in->len > 0)
        {
          g_byte_array_append (conn->in, (const guint8 *) data, nl - data);
          handle_line (server, conn, (const char *) conn->in->data, conn->in->len);
          g_byte_array_set_size (conn->in, 0);
        }
      else
        {
          handle_line (server, conn, data, nl - data);
        }
      data = nl + 1;
    }
  if (conn->closed)
    return;
  if (data < end)
    {
      if (conn->in->len + (end - data) > MAX_LINE)
        {
          close_connection (server, conn);
          return;
        }
      g_byte_array_append (conn->in, (const guint8 *) data, end - data);
    }
  flush (server, conn);
}

static void
accept_all (Server *server,
            Vm     *vm)
{
  for (;;)
    {
      int fd = accept4 (vm->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      struct epoll_event ev = { 0, };
      Connection *conn;

      if (fd < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          if (errno == EMFILE || errno == ENFILE)
            g_printerr ("fake-qmp: accept: %s (raise the open files limit)\n", g_strerror (errno));
          else if (errno != EAGAIN && errno != EWOULDBLOCK)
            g_printerr ("fake-qmp: accept: %s\n", g_strerror (errno));
          return;
        }
      conn = g_new0 (Connection, 1);
      conn->tag = TAG_CONNECTION;
      conn->fd = fd;
      conn->vm = vm;
      conn->in = g_byte_array_new ();
      conn->out = g_byte_array_new ();
      conn->index = server->connections->len;
      g_ptr_array_add (server->connections, conn);
      ev.events = EPOLLIN;
      ev.data.ptr = conn;
      if (epoll_ctl (server->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        g_error ("epoll_ctl: %s", g_strerror (errno));
      append (conn, GREETING, strlen (GREETING));
      flush (server, conn);
    }
}

/* ------------------------------------------------------------------------ */
/* Set-up */

static gboolean
listen_at (Server      *server,
           const char  *path,
           GError     **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.%d.tmp", path, (int) getpid ());
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct epoll_event ev = { 0, };
  Listener *listener;
  Vm *vm;
  int fd;

  if (strlen (tmp) >= sizeof addr.sun_path)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "Socket path too long: %s", path);
      return FALSE;
    }
  strcpy (addr.sun_path, tmp);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "socket: %s", g_strerror (errno));
      return FALSE;
    }
  g_unlink (tmp);
  /* The file appears under its name only once it accepts connections. */
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (fd, SOMAXCONN) < 0 ||
      rename (tmp, path) < 0)
    {
      int saved = errno;

      close (fd);
      g_unlink (tmp);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path, g_strerror (saved));
      return FALSE;
    }

  vm = g_new0 (Vm, 1);
  vm->fd = fd;
  vm->path = g_strdup (path);
  vm->running = TRUE;
  g_ptr_array_add (server->vms, vm);

  listener = g_new0 (Listener, 1);
  listener->tag = TAG_LISTENER;
  listener->vm = vm;
  ev.events = EPOLLIN;
  ev.data.ptr = listener;
  if (epoll_ctl (server->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
    g_error ("epoll_ctl: %s", g_strerror (errno));
  return TRUE;
}

static gboolean
raise_nofile_limit (guint64   needed,
                    GError  **error)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "getrlimit: %s", g_strerror (errno));
      return FALSE;
    }
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) < 0)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "Cannot raise the open files limit to %llu: %s",
                       (unsigned long long) limit.rlim_max, g_strerror (errno));
          return FALSE;
        }
    }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_MFILE,
                   "The open files limit is %llu, and %" G_GUINT64_FORMAT " are needed: "
                   "raise the hard limit (ulimit -Hn, or LimitNOFILE=)",
                   (unsigned long long) limit.rlim_cur, needed);
      return FALSE;
    }
  return TRUE;
}

static gboolean
listen_all (Server      *server,
            const char  *socket_path,
            const char  *fleet_dir,
            int          n_vms,
            GError     **error)
{
  g_autofree char *control = NULL;

  if (socket_path != NULL)
    return listen_at (server, socket_path, error);

  for (int i = 0; i < n_vms; i++)
    {
      g_autofree char *name = g_strdup_printf ("vm-%05d.sock", i);
      g_autofree char *path = g_build_filename (fleet_dir, name, NULL);

      if (!listen_at (server, path, error))
        return FALSE;
    }
  /* Last: a script waits for this one. */
  control = g_build_filename (fleet_dir, "control.sock", NULL);
  return listen_at (server, control, error);
}

static int
make_signal_fd (void)
{
  sigset_t mask;
  int fd;

  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  fd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0)
    g_error ("signalfd: %s", g_strerror (errno));
  return fd;
}

static void
run (Server *server)
{
  struct epoll_event events[256];

  while (!server->quit)
    {
      int n = epoll_wait (server->epoll_fd, events, G_N_ELEMENTS (events), -1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("epoll_wait: %s", g_strerror (errno));

      for (int i = 0; i < n; i++)
        {
          Tag *tag = events[i].data.ptr;

          if (*tag == TAG_SIGNAL)
            server->quit = TRUE;
          else if (*tag == TAG_LISTENER)
            accept_all (server, ((Listener *) tag)->vm);
        }

      for (int i = 0; i < n; i++)
        {
          Tag *tag = events[i].data.ptr;
          Connection *conn;

          if (*tag != TAG_CONNECTION)
            continue;
          /* Handling one connection may close another (a broadcast whose
           * write failed). */
          conn = events[i].data.ptr;
          if (!conn->closed && (events[i].events & EPOLLOUT))
            flush (server, conn);
          if (!conn->closed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            on_readable (server, conn);
        }
      g_ptr_array_set_size (server->closed, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *socket_path = NULL;
  g_autofree char *fleet_dir = NULL;
  int n_vms = 0;
  GOptionEntry entries[] = {
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "Listen on one UNIX socket", "PATH" },
    { "fleet", 0, 0, G_OPTION_ARG_FILENAME, &fleet_dir, "Listen on DIR/vm-NNNNN.sock and DIR/control.sock", "DIR" },
    { "vms", 0, 0, G_OPTION_ARG_INT, &n_vms, "VM sockets in the fleet", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- a fake QMP server for benchmarks");
  g_autoptr(GError) error = NULL;
  struct epoll_event ev = { 0, };
  Server server = { 0, };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("fake-qmp: %s\n", error->message);
      return 2;
    }
  if ((socket_path == NULL) == (fleet_dir == NULL) || (fleet_dir != NULL && n_vms < 1))
    {
      g_printerr ("fake-qmp: use --socket PATH, or --fleet DIR --vms N\n");
      return 2;
    }
  /* Each VM: a listening socket and a client or two; plus some slack. */
  if (!raise_nofile_limit (fleet_dir != NULL ? 2 * (guint64) n_vms + 64 : 64, &error))
    {
      g_printerr ("fake-qmp: %s\n", error->message);
      return 1;
    }

  server.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (server.epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  server.vms = g_ptr_array_new ();
  server.connections = g_ptr_array_new ();
  server.closed = g_ptr_array_new_with_free_func ((GDestroyNotify) connection_free);
  server.parser = json_parser_new ();
  server.read_buffer = g_malloc (READ_SIZE);
  server.signal_fd = make_signal_fd ();
  ev.events = EPOLLIN;
  ev.data.ptr = &signal_tag;
  epoll_ctl (server.epoll_fd, EPOLL_CTL_ADD, server.signal_fd, &ev);

  if (listen_all (&server, socket_path, fleet_dir, n_vms, &error))
    run (&server);
  else
    g_printerr ("fake-qmp: %s\n", error->message);

  for (guint i = 0; i < server.vms->len; i++)
    g_unlink (((Vm *) server.vms->pdata[i])->path);
  return error != NULL ? 1 : 0;
}
