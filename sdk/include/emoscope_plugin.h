/*
 * emoscope native plugins: the C ABI, version 1.
 *
 * A native plugin is a shared library (.so, .dylib, .dll) in a folder beside a plugin.toml:
 *
 *     name = "mine"
 *     version = "0.1.0"
 *     kind = "native"
 *     interface = "1"          # EMOSCOPE_PLUGIN_ABI_VERSION
 *     file = "libmine.so"
 *
 * Native plugins are trusted: they run in the host's process with its rights, for speed. (Third
 * parties who need no more than that should ship a sandboxed WASM component instead.)
 *
 * The host, in this order:
 *   1. loads the library and calls emoscope_plugin_abi_version(); if it is not the host's ABI
 *      version the library is refused and nothing else in it is touched;
 *   2. calls emoscope_plugin_entry() for the function table and checks its abi_version again;
 *   3. calls describe() once, and call() for every script call, possibly from several threads at
 *      once (a plugin keeps no unsynchronised global state);
 *   4. never unloads the library.
 *
 * Values cross as UTF-8 JSON. Within the JSON, the object {"$tensor": i} stands for the i-th
 * tensor of the accompanying array, so tensors never pass through text.
 *
 * Tensors are DLPack DLManagedTensors (dlpack.h v0.8 layout, copied below so that this header
 * stands alone) on the CPU (device_type kDLCPU = 1), with lanes = 1 and one of the dtypes
 *     float32 (code 2, bits 32), float64 (2, 64), int64 (0, 64), uint8 (1, 8), bool (6, 8).
 * Whoever allocates a tensor supplies its deleter, and it is called exactly once, when the other
 * side is done:
 *   - input tensors are the host's; they are valid only during call(), which must not keep them,
 *     write to them or call their deleter (the host does, after call() returns). They are always
 *     C-contiguous (strides NULL) with byte_offset 0;
 *   - output tensors are the plugin's; the host copies them out and then calls their deleter.
 *     They may have strides (in elements, non-negative; NULL = C-contiguous).
 *
 * Strings and arrays that the plugin returns (describe()'s JSON, output.json, output.error,
 * output.tensors) are the plugin's: the host hands each back to the table's free() when done.
 */
#ifndef EMOSCOPE_PLUGIN_H
#define EMOSCOPE_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef EMOSCOPE_PLUGIN_ABI_VERSION
#define EMOSCOPE_PLUGIN_ABI_VERSION 1u
#endif

#ifndef DLPACK_VERSION
/* The subset of dlpack.h (https://github.com/dmlc/dlpack, v0.8) that emoscope uses. */
typedef enum { kDLCPU = 1 } DLDeviceType;
typedef struct {
  int32_t device_type;
  int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 } DLDataTypeCode;
typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;
typedef struct {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
  DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;
#endif

/* Log levels for emoscope_host.log. */
enum { EMOSCOPE_DEBUG = 0, EMOSCOPE_INFO = 1, EMOSCOPE_WARN = 2 };

/* What the host offers during one call. The functions may be called from any thread. */
typedef struct emoscope_host {
  void *ctx;
  void (*log)(void *ctx, int32_t level, const char *message);
  /* Progress of long work: done out of total, in any unit. */
  void (*progress)(void *ctx, uint64_t done, uint64_t total);
  /* Non-zero once the user asked to stop (Ctrl-C): return an error soon after. */
  int32_t (*cancelled)(void *ctx);
} emoscope_host;

/* Filled by call(): json on success (return 0), error on failure (return non-zero). */
typedef struct emoscope_output {
  char *json;
  char *error;
  DLManagedTensor **tensors;
  uint64_t n_tensors;
} emoscope_output;

typedef struct emoscope_plugin_api {
  /* EMOSCOPE_PLUGIN_ABI_VERSION, again. */
  uint32_t abi_version;
  /* The plugin's description as JSON, freed with free():
   *   {"name", "version", "description", "functions": [{"name", "summary",
   *    "params": [{"name", "type", "doc", "optional"}],
   *    "options": [{"name", "type", "default", "doc"}],
   *    "returns", "section", "example"}]}
   * where a type is any, bool, int, float, string, tensor, list or map, and a default is a
   * script literal ("1.0", "\"cosine\"", "()"). */
  char *(*describe)(void);
  /* Call `function` with the positional arguments (a JSON array) and the options (a JSON
   * object), the tensors they refer to, and fill `out`, which arrives zeroed. */
  int32_t (*call)(const emoscope_host *host, const char *function, const char *args_json,
                  const char *options_json, DLManagedTensor *const *tensors, uint64_t n_tensors,
                  emoscope_output *out);
  /* Free a string or array this plugin returned. */
  void (*free)(void *ptr);
} emoscope_plugin_api;

/* The two exported symbols. */
uint32_t emoscope_plugin_abi_version(void);
const emoscope_plugin_api *emoscope_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* EMOSCOPE_PLUGIN_H */
