/* qmpthin.h: the only header users of libqmpthin include
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define __QMPTHIN_INSIDE__

#include <glib-object.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-enums.h>
#include <qmpthin/qmp-enum-types.h>
#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-event.h>
#include <qmpthin/qmp-events.h>
#include <qmpthin/qmp-stop-reason.h>
#include <qmpthin/qmp-client.h>
#include <qmpthin/qmp-status.h>
#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-commands.h>
#include <qmpthin/qmp-thin-timing.h>
#include <qmpthin/qmp-thin-monitor.h>

#undef __QMPTHIN_INSIDE__
