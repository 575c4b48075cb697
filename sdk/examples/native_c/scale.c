/*
 * An example native plugin in plain C: `cscale::scale(x, #{factor})` returns x times factor as
 * an f64 tensor. It shows the whole C ABI of emoscope_plugin.h: the version symbol, the
 * function table, DLPack tensors in and out (with this library's deleter on the way out), and
 * strings owned by the plugin until its free() is called.
 *
 * Build:  cc -shared -fPIC -O2 -I ../../include scale.c -o libcscale.so
 * then put libcscale.so beside plugin.toml and `emoscope plugin install` the folder.
 */
#include "emoscope_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *copy(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static char *describe(void) {
  return copy(
      "{\"name\": \"cscale\", \"version\": \"0.1.0\","
      " \"description\": \"An example native plugin in C\","
      " \"functions\": [{\"name\": \"scale\", \"summary\": \"Multiply every element by a factor.\","
      "  \"params\": [{\"name\": \"x\", \"type\": \"tensor\", \"doc\": \"f32 or f64, any shape\", \"optional\": false}],"
      "  \"options\": [{\"name\": \"factor\", \"type\": \"float\", \"default\": \"1.0\", \"doc\": \"the multiplier\"}],"
      "  \"returns\": \"an f64 tensor of x's shape\", \"section\": \"\", \"example\": \"cscale::scale(x, #{factor: 2.0})\"}]}");
}

static int32_t fail(emoscope_output *out, const char *msg) {
  out->error = copy(msg);
  return 1;
}

/* What this library allocates for a result tensor, freed by its deleter. */
typedef struct {
  DLManagedTensor managed;
  int64_t *shape;
  double *data;
} owned;

static void delete_owned(DLManagedTensor *self) {
  owned *o = (owned *)self->manager_ctx;
  free(o->shape);
  free(o->data);
  free(o);
}

/* The factor from the options JSON, a flat object written by the host: {"factor": 2.5}. */
static int parse_factor(const char *options, double *factor) {
  const char *p = strstr(options, "\"factor\"");
  *factor = 1.0;
  if (!p) return strcmp(options, "{}") == 0 ? 0 : -1;
  p = strchr(p, ':');
  if (!p) return -1;
  char *end;
  *factor = strtod(p + 1, &end);
  return end == p + 1 ? -1 : 0;
}

static int32_t call(const emoscope_host *host, const char *function, const char *args_json,
                    const char *options_json, DLManagedTensor *const *tensors, uint64_t n_tensors,
                    emoscope_output *out) {
  if (strcmp(function, "scale") != 0) return fail(out, "cscale has only the function 'scale'");
  /* The only argument is a tensor, so the host sends [{"$tensor": 0}]. */
  if (n_tensors != 1 || strstr(args_json, "\"$tensor\"") == NULL)
    return fail(out, "scale: x must be a tensor");
  double factor;
  if (parse_factor(options_json, &factor) != 0)
    return fail(out, "scale: the only option is factor, a number");
  const DLTensor *x = &tensors[0]->dl_tensor;
  if (x->dtype.code != kDLFloat || (x->dtype.bits != 32 && x->dtype.bits != 64))
    return fail(out, "scale: x must be f32 or f64");
  int64_t n = 1;
  for (int32_t k = 0; k < x->ndim; k++) n *= x->shape[k];

  owned *o = calloc(1, sizeof(owned));
  int64_t *shape = malloc(sizeof(int64_t) * (x->ndim > 0 ? x->ndim : 1));
  double *data = malloc(sizeof(double) * (n > 0 ? n : 1));
  DLManagedTensor **list = malloc(sizeof(DLManagedTensor *));
  if (!o || !shape || !data || !list) {
    free(o), free(shape), free(data), free(list);
    return fail(out, "scale: out of memory");
  }
  for (int64_t i = 0; i < n; i++) {
    double v = x->dtype.bits == 64 ? ((const double *)x->data)[i] : ((const float *)x->data)[i];
    data[i] = v * factor;
    if ((i & 0xFFFFF) == 0 && host->cancelled(host->ctx)) {
      free(o), free(shape), free(data), free(list);
      return fail(out, "cancelled");
    }
  }
  memcpy(shape, x->shape, sizeof(int64_t) * x->ndim);
  o->shape = shape;
  o->data = data;
  o->managed.dl_tensor.data = data;
  o->managed.dl_tensor.device.device_type = kDLCPU;
  o->managed.dl_tensor.ndim = x->ndim;
  o->managed.dl_tensor.dtype.code = kDLFloat;
  o->managed.dl_tensor.dtype.bits = 64;
  o->managed.dl_tensor.dtype.lanes = 1;
  o->managed.dl_tensor.shape = shape;
  o->managed.manager_ctx = o;
  o->managed.deleter = delete_owned;
  list[0] = &o->managed;
  out->tensors = list;
  out->n_tensors = 1;
  out->json = copy("{\"$tensor\": 0}");
  host->log(host->ctx, EMOSCOPE_DEBUG, "cscale: scaled");
  return 0;
}

static void release(void *p) { free(p); }

static const emoscope_plugin_api API = {EMOSCOPE_PLUGIN_ABI_VERSION, describe, call, release};

uint32_t emoscope_plugin_abi_version(void) { return EMOSCOPE_PLUGIN_ABI_VERSION; }

const emoscope_plugin_api *emoscope_plugin_entry(void) {
#if EMOSCOPE_PLUGIN_ABI_VERSION != 1
  /* Built for another ABI (the tests build it so): a host must refuse this library from its
   * version symbol alone, before it asks for the table. */
  fprintf(stderr, "cscale: emoscope_plugin_entry() called despite ABI %u\n",
          (unsigned)EMOSCOPE_PLUGIN_ABI_VERSION);
  abort();
#endif
  return &API;
}
