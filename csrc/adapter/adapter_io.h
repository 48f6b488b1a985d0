// adapter_io.h — file helpers shared by the adapter loaders.
#ifndef XT_ADAPTER_ADAPTER_IO_H
#define XT_ADAPTER_ADAPTER_IO_H

#include "xtral.h"

// Parses dir/name as a JSON object. A missing file is XT_ERR_IO (ENOENT) naming the path;
// errors inside the file name it too. Caller frees *doc.
xt_status xt_adapter_read_json(const char *dir, const char *name, xt_json **doc);

#endif  // XT_ADAPTER_ADAPTER_IO_H
