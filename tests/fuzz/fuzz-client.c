/* fuzz-client.c: a whole QmpClient talking to a hostile QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is everything QEMU sends on one connection: a greeting, the
 * replies to negotiation and resync, events, the replies to the commands
 * the caller runs. The client reads it from a stream made with
 * qmp_client_new_for_stream() that hands out one line per read, so that
 * the client answers each line before it reads the next, as it does with a
 * real QEMU; what it writes is discarded. The end of the input is QEMU
 * closing the connection.
 *
 * The client connects and, once connected, runs one of each typed command
 * plus a raw one; an event handler runs a _sync command from inside the
 * handler once. The main context is iterated until the input is exhausted.
 *
 * Checked besides "no crash, no leak": the connect callback and every
 * command's callback run exactly once, ::disconnected is emitted at most
 * once, every error is in a domain the API documents, and the client
 * never stalls with work pending (every wait ends by the end of input:
 * there are no timeouts).
 *
 * The client numbers its commands qmpthin-1, qmpthin-2…: the seeds answer
 * them in the order a real session sends them (qmp_capabilities and
 * query-status, query-block when paused, then the commands below).
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "fuzz-common.h"

/* ------------------------------------------------------------------------ */
/* A GMemoryInputStream that returns at most one line per read */

typedef struct {
  GMemoryInputStream parent_instance;
  GBytes *bytes;
} FuzzInput;

typedef struct {
  GMemoryInputStreamClass parent_class;
} FuzzInputClass;

static GType fuzz_input_get_type (void);
G_DEFINE_TYPE (FuzzInput, fuzz_input, G_TYPE_MEMORY_INPUT_STREAM)

static gssize
fuzz_input_read (GInputStream  *stream,
                 void          *buffer,
                 gsize          count,
                 GCancellable  *cancellable,
                 GError       **error)
{
  FuzzInput *self = (FuzzInput *) stream;
  gsize size;
  const char *data = g_bytes_get_data (self->bytes, &size);
  goffset pos = g_seekable_tell (G_SEEKABLE (stream));

  if ((gsize) pos < size)
    {
      const char *nl = memchr (data + pos, '\n', size - pos);

      if (nl != NULL)
        count = MIN (count, (gsize) (nl - (data + pos)) + 1);
    }
  return G_INPUT_STREAM_CLASS (fuzz_input_parent_class)->read_fn (stream, buffer, count,
                                                                   cancellable, error);
}

static void
fuzz_input_finalize (GObject *object)
{
  FuzzInput *self = (FuzzInput *) object;

  g_bytes_unref (self->bytes);
  G_OBJECT_CLASS (fuzz_input_parent_class)->finalize (object);
}

static void
fuzz_input_class_init (FuzzInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fuzz_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = fuzz_input_read;
}

static void
fuzz_input_init (FuzzInput *self)
{
}

static GInputStream *
fuzz_input_new (GBytes *bytes)
{
  FuzzInput *self = g_object_new (fuzz_input_get_type (), NULL);

  self->bytes = g_bytes_ref (bytes);
  g_memory_input_stream_add_bytes (G_MEMORY_INPUT_STREAM (self), bytes);
  return G_INPUT_STREAM (self);
}

/* ------------------------------------------------------------------------ */
/* The caller */

typedef enum {
  CALL_QUERY_STATUS,
  CALL_QUERY_BLOCK,
  CALL_QUERY_BLOCKSTATS,
  CALL_QUERY_NAMED_BLOCK_NODES,
  CALL_SET_WRITE_THRESHOLD,
  CALL_CONT,
  CALL_EXECUTE,
  N_CALLS
} CallKind;

typedef struct _Fuzz Fuzz;

typedef struct {
  Fuzz *fuzz;
  CallKind kind;
  guint n_completed;
} Call;

struct _Fuzz {
  QmpClient *client;
  guint n_connect_completed;
  gboolean connected;
  Call calls[N_CALLS];
  guint n_issued;
  guint n_completed;
  guint n_disconnected;
  guint n_events;
  gboolean ran_sync;
};

static void
check_error (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == QMP_ERROR || error->domain == QMP_COMMAND_ERROR ||
                 error->domain == G_IO_ERROR);
  g_assert_nonnull (error->message);
}

static void
read_results (GPtrArray *results)
{
  for (guint i = 0; i < results->len; i++)
    fuzz_read_all_properties (results->pdata[i]);
}

static void
call_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Call *call = user_data;
  QmpClient *client = QMP_CLIENT (source);
  g_autoptr(GError) error = NULL;
  gboolean ok = FALSE;

  g_assert_cmpuint (call->n_completed, ==, 0);
  call->n_completed++;
  call->fuzz->n_completed++;

  switch (call->kind)
    {
    case CALL_QUERY_STATUS:
      {
        g_autoptr(QmpStatusInfo) info = qmp_client_query_status_finish (client, result, &error);

        if ((ok = info != NULL))
          fuzz_read_all_properties (info);
      }
      break;
    case CALL_QUERY_BLOCK:
      {
        g_autoptr(GPtrArray) blocks = qmp_client_query_block_finish (client, result, &error);

        if ((ok = blocks != NULL))
          read_results (blocks);
      }
      break;
    case CALL_QUERY_BLOCKSTATS:
      {
        g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_finish (client, result, &error);

        if ((ok = stats != NULL))
          read_results (stats);
      }
      break;
    case CALL_QUERY_NAMED_BLOCK_NODES:
      {
        g_autoptr(GPtrArray) nodes = qmp_client_query_named_block_nodes_finish (client, result, &error);

        if ((ok = nodes != NULL))
          read_results (nodes);
      }
      break;
    case CALL_SET_WRITE_THRESHOLD:
      ok = qmp_client_set_write_threshold_finish (client, result, &error);
      break;
    case CALL_CONT:
      ok = qmp_client_cont_finish (client, result, &error);
      break;
    case CALL_EXECUTE:
      {
        g_autoptr(JsonNode) value = qmp_client_execute_finish (client, result, &error);

        ok = value != NULL;
      }
      break;
    case N_CALLS:
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    check_error (error);
  else
    g_assert_no_error (error);
}

static void
run_commands (Fuzz *f)
{
  for (guint i = 0; i < N_CALLS; i++)
    {
      Call *call = &f->calls[i];

      call->fuzz = f;
      call->kind = i;
      f->n_issued++;
      switch (call->kind)
        {
        case CALL_QUERY_STATUS:
          qmp_client_query_status_async (f->client, NULL, call_ready, call);
          break;
        case CALL_QUERY_BLOCK:
          qmp_client_query_block_async (f->client, NULL, call_ready, call);
          break;
        case CALL_QUERY_BLOCKSTATS:
          qmp_client_query_blockstats_async (f->client, TRUE, NULL, call_ready, call);
          break;
        case CALL_QUERY_NAMED_BLOCK_NODES:
          qmp_client_query_named_block_nodes_async (f->client, NULL, call_ready, call);
          break;
        case CALL_SET_WRITE_THRESHOLD:
          qmp_client_set_write_threshold_async (f->client, "data-file", 1024 * 1024,
                                                NULL, call_ready, call);
          break;
        case CALL_CONT:
          qmp_client_cont_async (f->client, NULL, call_ready, call);
          break;
        case CALL_EXECUTE:
          qmp_client_execute_async (f->client, "query-version", NULL, NULL, call_ready, call);
          break;
        case N_CALLS:
        default:
          g_assert_not_reached ();
        }
    }
}

static void
connect_ready (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Fuzz *f = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (f->n_connect_completed, ==, 0);
  f->n_connect_completed++;
  f->connected = qmp_client_connect_finish (f->client, result, &error);
  if (!f->connected)
    {
      check_error (error);
      return;
    }
  g_assert_no_error (error);
  (void) qmp_client_get_qemu_version (f->client);
  (void) qmp_client_get_qemu_package (f->client);
  (void) qmp_client_get_capabilities (f->client);
  (void) qmp_client_has_capability (f->client, "oob");
  fuzz_read_all_properties (f->client);
  run_commands (f);
}

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fuzz *f = user_data;
  g_autofree char *text = NULL;

  f->n_events++;
  fuzz_read_all_properties (event);
  text = qmp_event_to_string (event);
  g_assert_nonnull (text);

  /* Handlers may wait for a command; the reply (or the end of the
   * connection) must still come. */
  if (!f->ran_sync)
    {
      g_autoptr(QmpStatusInfo) info = NULL;
      g_autoptr(GError) error = NULL;

      f->ran_sync = TRUE;
      info = qmp_client_query_status_sync (client, NULL, &error);
      if (info == NULL)
        check_error (error);
    }
}

static void
on_typed_event (QmpClient *client,
                QmpEvent  *event,
                gpointer   user_data)
{
  fuzz_read_all_properties (event);
}

static void
on_stop_reason_changed (QmpClient     *client,
                        QmpStopReason *reason,
                        gpointer       user_data)
{
  const char * const *nodes;

  fuzz_read_all_properties (reason);
  (void) qmp_stop_reason_is_paused (reason);
  nodes = qmp_stop_reason_get_node_names (reason);
  for (gsize i = 0; nodes != NULL && nodes[i] != NULL; i++)
    g_assert_true (g_utf8_validate (nodes[i], -1, NULL));
}

static void
on_disconnected (QmpClient    *client,
                 const GError *error,
                 gpointer      user_data)
{
  Fuzz *f = user_data;

  g_assert_cmpuint (f->n_disconnected, ==, 0);
  f->n_disconnected++;
  check_error (error);
}

static gboolean
finished (Fuzz *f)
{
  return f->n_connect_completed == 1 &&
         f->n_completed == f->n_issued &&
         (!f->connected || f->n_disconnected == 1);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_setup_logging ();
  /* Class initialisation allocates for good: do it before the first input
   * so that the leak checker sees only what an input leaks. */
  g_type_ensure (QMP_TYPE_CLIENT);
  g_type_ensure (QMP_TYPE_BLOCK_IO_ERROR_EVENT);
  g_type_ensure (QMP_TYPE_WRITE_THRESHOLD_EVENT);
  g_type_ensure (QMP_TYPE_STATUS_INFO);
  g_type_ensure (QMP_TYPE_BLOCK_INFO);
  g_type_ensure (QMP_TYPE_BLOCK_STATS);
  g_type_ensure (QMP_TYPE_BLOCK_NODE);
  g_type_ensure (QMP_TYPE_STOP_REASON);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GInputStream) input = fuzz_input_new (bytes);
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GIOStream) stream = g_simple_io_stream_new (input, output);
  Fuzz f = { 0, };
  guint idle = 0;

  fuzz_setup_logging ();
  g_main_context_push_thread_default (context);

  f.client = qmp_client_new_for_stream (stream);
  /* No timer may end a wait: only the input does. */
  qmp_client_set_command_timeout (f.client, QMP_TIMEOUT_NONE);
  qmp_client_set_connect_timeout (f.client, QMP_TIMEOUT_NONE);
  g_signal_connect (f.client, "event", G_CALLBACK (on_event), &f);
  g_signal_connect (f.client, "block-io-error", G_CALLBACK (on_typed_event), &f);
  g_signal_connect (f.client, "block-write-threshold", G_CALLBACK (on_typed_event), &f);
  g_signal_connect (f.client, "stop", G_CALLBACK (on_typed_event), &f);
  g_signal_connect (f.client, "resume", G_CALLBACK (on_typed_event), &f);
  g_signal_connect (f.client, "stop-reason-changed", G_CALLBACK (on_stop_reason_changed), &f);
  g_signal_connect (f.client, "disconnected", G_CALLBACK (on_disconnected), &f);

  qmp_client_connect_async (f.client, NULL, connect_ready, &f);

  /* Everything the client waits for is ready at once (the input, idles):
   * an iteration that dispatches nothing means it waits for nothing it can
   * ever get. */
  while (!finished (&f))
    {
      if (g_main_context_iteration (context, FALSE))
        idle = 0;
      else if (++idle > 100)
        g_error ("The client stalled: connect %s, %u of %u commands completed, "
                 "%u disconnection(s), %" G_GSIZE_FORMAT " input bytes left",
                 f.n_connect_completed ? "completed" : "pending",
                 f.n_completed, f.n_issued, f.n_disconnected,
                 size - (gsize) g_seekable_tell (G_SEEKABLE (input)));
    }

  g_assert_true (qmp_client_get_state (f.client) != QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (qmp_client_get_n_pending (f.client), ==, 0);
  qmp_client_close_async (f.client, NULL, NULL, NULL);
  g_clear_object (&f.client);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  return 0;
}
