/*
 * session_runner: loads a SavedModel the way tensorflow_model_server does --
 * TF_LoadSessionFromSavedModel (the session-based C++ loader), after
 * TF_LoadLibrary of the op libraries the server has compiled in (TF Text) --
 * and runs requests against it by tensor name.
 *
 * Usage: session_runner EXPORT_DIR REQUESTS_FILE RESPONSES_FILE [OP_LIBRARY ...]
 *
 * REQUESTS_FILE (little endian):
 *   int32 n_requests, then per request:
 *     int32 n_inputs, per input:  string name ("op:index"), tensor
 *     int32 n_outputs, per output: string name
 * RESPONSES_FILE: per request, int32 n_outputs, then each output tensor.
 * string: int32 length, bytes.
 * tensor: int32 TF_DataType, int32 ndims, int64 dims[ndims], then the values:
 *   raw little-endian numbers, or for TF_STRING per element int64 length, bytes.
 *
 * Errors go to stderr with a non-zero exit status; a failed run of one
 * request (e.g. InvalidArgument) is reported as "RUN_ERROR <code> <message>"
 * on stderr and the program exits with status 3. After the last request,
 * "PEAK_RSS_KB <n>" on stderr is the process's peak resident memory (VmHWM:
 * unlike getrusage's ru_maxrss it does not count the parent's pages from
 * before exec).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"

static void print_peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmHWM:", 6) == 0) fprintf(stderr, "PEAK_RSS_KB %ld\n", atol(line + 6));
  }
  fclose(f);
}

static void die(const char *what, TF_Status *status) {
  fprintf(stderr, "%s: %s\n", what, status ? TF_Message(status) : "");
  exit(2);
}

static void read_exact(FILE *f, void *buf, size_t n) {
  if (n && fread(buf, 1, n, f) != n) die("truncated requests file", NULL);
}

static int32_t read_i32(FILE *f) { int32_t v; read_exact(f, &v, 4); return v; }
static int64_t read_i64(FILE *f) { int64_t v; read_exact(f, &v, 8); return v; }

static char *read_string(FILE *f) {
  int32_t n = read_i32(f);
  char *s = malloc((size_t)n + 1);
  read_exact(f, s, (size_t)n);
  s[n] = 0;
  return s;
}

static TF_Output output_by_name(TF_Graph *graph, const char *name) {
  char op_name[1024];
  int index = 0;
  const char *colon = strrchr(name, ':');
  size_t len = colon ? (size_t)(colon - name) : strlen(name);
  if (len >= sizeof(op_name)) die("tensor name too long", NULL);
  memcpy(op_name, name, len);
  op_name[len] = 0;
  if (colon) index = atoi(colon + 1);
  TF_Operation *op = TF_GraphOperationByName(graph, op_name);
  if (!op) {
    fprintf(stderr, "no operation named %s in the graph\n", op_name);
    exit(2);
  }
  TF_Output out = {op, index};
  return out;
}

static int64_t element_count(const int64_t *dims, int ndims) {
  int64_t n = 1;
  for (int i = 0; i < ndims; i++) n *= dims[i];
  return n;
}

static TF_Tensor *read_tensor(FILE *f) {
  TF_DataType dtype = (TF_DataType)read_i32(f);
  int32_t ndims = read_i32(f);
  int64_t dims[16];
  if (ndims < 0 || ndims > 16) die("bad rank in requests file", NULL);
  for (int i = 0; i < ndims; i++) dims[i] = read_i64(f);
  int64_t count = element_count(dims, ndims);
  if (dtype == TF_STRING) {
    TF_Tensor *t = TF_AllocateTensor(TF_STRING, dims, ndims, (size_t)count * sizeof(TF_TString));
    TF_TString *strings = (TF_TString *)TF_TensorData(t);
    for (int64_t i = 0; i < count; i++) {
      int64_t n = read_i64(f);
      char *buf = malloc((size_t)n + 1);
      read_exact(f, buf, (size_t)n);
      TF_TString_Init(&strings[i]);
      TF_TString_Copy(&strings[i], buf, (size_t)n);
      free(buf);
    }
    return t;
  }
  size_t nbytes = (size_t)count * TF_DataTypeSize(dtype);
  TF_Tensor *t = TF_AllocateTensor(dtype, dims, ndims, nbytes);
  read_exact(f, TF_TensorData(t), nbytes);
  return t;
}

static void write_tensor(FILE *f, const TF_Tensor *t) {
  int32_t dtype = (int32_t)TF_TensorType(t);
  int32_t ndims = TF_NumDims(t);
  fwrite(&dtype, 4, 1, f);
  fwrite(&ndims, 4, 1, f);
  int64_t dims[16];
  for (int i = 0; i < ndims; i++) {
    dims[i] = TF_Dim(t, i);
    fwrite(&dims[i], 8, 1, f);
  }
  int64_t count = element_count(dims, ndims);
  if (dtype == TF_STRING) {
    const TF_TString *strings = (const TF_TString *)TF_TensorData(t);
    for (int64_t i = 0; i < count; i++) {
      int64_t n = (int64_t)TF_TString_GetSize(&strings[i]);
      fwrite(&n, 8, 1, f);
      fwrite(TF_TString_GetDataPointer(&strings[i]), 1, (size_t)n, f);
    }
  } else {
    fwrite(TF_TensorData(t), 1, TF_TensorByteSize(t), f);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s EXPORT_DIR REQUESTS_FILE RESPONSES_FILE [OP_LIBRARY ...]\n",
            argv[0]);
    return 1;
  }
  TF_Status *status = TF_NewStatus();
  for (int i = 4; i < argc; i++) {
    TF_Library *lib = TF_LoadLibrary(argv[i], status);
    if (TF_GetCode(status) != TF_OK) die(argv[i], status);
    (void)lib;
  }

  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Buffer *meta_graph = TF_NewBuffer();
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, argv[1], tags, 1, graph,
                                                     meta_graph, status);
  if (TF_GetCode(status) != TF_OK) die("TF_LoadSessionFromSavedModel", status);

  FILE *in = fopen(argv[2], "rb");
  FILE *out = fopen(argv[3], "wb");
  if (!in || !out) die("cannot open the requests or responses file", NULL);
  int32_t n_requests = read_i32(in);
  for (int32_t r = 0; r < n_requests; r++) {
    int32_t n_inputs = read_i32(in);
    TF_Output *inputs = calloc((size_t)n_inputs + 1, sizeof(TF_Output));
    TF_Tensor **input_values = calloc((size_t)n_inputs + 1, sizeof(TF_Tensor *));
    for (int32_t i = 0; i < n_inputs; i++) {
      char *name = read_string(in);
      inputs[i] = output_by_name(graph, name);
      input_values[i] = read_tensor(in);
      free(name);
    }
    int32_t n_outputs = read_i32(in);
    TF_Output *outputs = calloc((size_t)n_outputs + 1, sizeof(TF_Output));
    TF_Tensor **output_values = calloc((size_t)n_outputs + 1, sizeof(TF_Tensor *));
    for (int32_t i = 0; i < n_outputs; i++) {
      char *name = read_string(in);
      outputs[i] = output_by_name(graph, name);
      free(name);
    }
    TF_SessionRun(session, NULL, inputs, input_values, n_inputs, outputs, output_values,
                  n_outputs, NULL, 0, NULL, status);
    if (TF_GetCode(status) != TF_OK) {
      fprintf(stderr, "RUN_ERROR %d %s\n", (int)TF_GetCode(status), TF_Message(status));
      return 3;
    }
    fwrite(&n_outputs, 4, 1, out);
    for (int32_t i = 0; i < n_outputs; i++) {
      write_tensor(out, output_values[i]);
      TF_DeleteTensor(output_values[i]);
    }
    for (int32_t i = 0; i < n_inputs; i++) TF_DeleteTensor(input_values[i]);
    free(inputs);
    free(input_values);
    free(outputs);
    free(output_values);
  }
  fclose(in);
  fclose(out);
  print_peak_rss();
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteGraph(graph);
  TF_DeleteBuffer(meta_graph);
  TF_DeleteSessionOptions(options);
  TF_DeleteStatus(status);
  return 0;
}
