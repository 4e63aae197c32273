/* qmp-errors.c: error domains of libqmpthin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-client-private.h"

/**
 * SECTION:qmp-errors
 * @Title: Errors
 * @Short_description: Error domains of libqmpthin
 *
 * libqmpthin reports three kinds of failures, each in its own domain:
 *
 * - transport failures as #G_IO_ERROR: %G_IO_ERROR_CLOSED when the
 *   connection is gone (QEMU exited, the socket was reset, or the caller
 *   closed the client), %G_IO_ERROR_TIMED_OUT when a command or the
 *   connection attempt took longer than its timeout,
 *   %G_IO_ERROR_CANCELLED when the caller cancelled the call;
 * - #QMP_ERROR for what the library itself found wrong with the peer: a
 *   missing or invalid greeting, malformed JSON, a message over the size
 *   limit. Such a peer cannot be trusted any more: the client closes the
 *   connection, and every pending call fails;
 * - #QMP_COMMAND_ERROR for errors QEMU returned for a command. The message
 *   is QEMU's own text, and qmp_command_error_get_class_name() gives QEMU's
 *   error class even when the code is %QMP_COMMAND_ERROR_UNKNOWN.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 * g_autoptr(JsonNode) ret = qmp_client_execute_sync (client, "cont", NULL, NULL, &error);
 *
 * if (g_error_matches (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR))
 *   g_printerr ("QEMU refused: %s\n", error->message);
 * ]|
 */

G_DEFINE_QUARK (qmp-error-quark, qmp_error)

typedef struct
{
  char *class_name;
} QmpCommandErrorPrivate;

static void
qmp_command_error_private_init (QmpCommandErrorPrivate *priv)
{
  priv->class_name = NULL;
}

static void
qmp_command_error_private_copy (const QmpCommandErrorPrivate *src,
                                QmpCommandErrorPrivate       *dest)
{
  dest->class_name = g_strdup (src->class_name);
}

static void
qmp_command_error_private_clear (QmpCommandErrorPrivate *priv)
{
  g_clear_pointer (&priv->class_name, g_free);
}

/* An extended error domain: every error carries QEMU's class name as
 * QEMU spelled it, so that a class this version does not know stays
 * readable. */
G_DEFINE_EXTENDED_ERROR (QmpCommandError, qmp_command_error)

/**
 * qmp_error_quark:
 *
 * The quark of the #QMP_ERROR domain.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */

/**
 * qmp_command_error_quark:
 *
 * The quark of the #QMP_COMMAND_ERROR domain.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */

static const struct {
  const char *name;
  QmpCommandError code;
} command_error_classes[] = {
  { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR },
  { "CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND },
  { "DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE },
  { "DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND },
  { "KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP },
};

/**
 * qmp_command_error_from_class:
 * @class_name: an error class as QEMU names it, e.g. "GenericError"
 *
 * Maps a QEMU error class to its #QmpCommandError code.
 *
 * Returns: the code, or %QMP_COMMAND_ERROR_UNKNOWN for a class this version
 *   of the library does not know
 *
 * Since: 1.0
 */
QmpCommandError
qmp_command_error_from_class (const char *class_name)
{
  g_return_val_if_fail (class_name != NULL, QMP_COMMAND_ERROR_UNKNOWN);

  for (gsize i = 0; i < G_N_ELEMENTS (command_error_classes); i++)
    if (strcmp (command_error_classes[i].name, class_name) == 0)
      return command_error_classes[i].code;
  return QMP_COMMAND_ERROR_UNKNOWN;
}

/* QEMU's class name of a known code; NULL for UNKNOWN. */
static const char *
class_of_code (QmpCommandError code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (command_error_classes); i++)
    if (command_error_classes[i].code == code)
      return command_error_classes[i].name;
  return NULL;
}

/**
 * qmp_command_error_get_class_name:
 * @error: an error of the #QMP_COMMAND_ERROR domain
 *
 * Gives QEMU's error class of @error as QEMU spelled it, also for a class
 * this version of the library does not know. An error of the domain made
 * elsewhere (a copy that lost the class, as language bindings make) gives
 * the class of its code.
 *
 * Returns: (nullable): the class name, or %NULL if @error is not in the
 *   #QMP_COMMAND_ERROR domain, or is a copy of an error of an unknown class
 *
 * Since: 1.0
 */
const char *
qmp_command_error_get_class_name (const GError *error)
{
  QmpCommandErrorPrivate *priv;

  g_return_val_if_fail (error != NULL, NULL);

  priv = qmp_command_error_get_private (error);
  if (priv == NULL)
    return NULL;
  return priv->class_name != NULL ? priv->class_name : class_of_code (error->code);
}

GError *
_qmp_command_error_new (const char *class_name,
                        const char *desc)
{
  GError *error = g_error_new_literal (QMP_COMMAND_ERROR,
                                       qmp_command_error_from_class (class_name),
                                       desc);
  QmpCommandErrorPrivate *priv = qmp_command_error_get_private (error);

  priv->class_name = g_strdup (class_name);
  return error;
}
