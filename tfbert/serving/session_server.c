/*
 * session_server: loads a SavedModel once, the way tensorflow_model_server
 * does -- TF_LoadSessionFromSavedModel after TF_LoadLibrary of the op
 * libraries -- and answers framed requests from stdin on stdout, with a pool
 * of worker threads that call TF_SessionRun concurrently on the one session
 * (a session is thread-safe for Run; the model server shares it the same way).
 *
 * Usage: session_server EXPORT_DIR N_WORKERS [OP_LIBRARY ...]
 *
 * All integers little endian. Once loaded, the server writes a ready frame
 * (id -1, code 0, empty body). Then:
 *   request frame:  int64 id, int64 body_length, body
 *     body: int32 n_inputs, per input: string name ("op:index"), tensor;
 *           int32 n_outputs, per output: string name
 *   response frame: int64 id, int32 code, int64 body_length, body
 *     code 0: body = int32 n_outputs, then each output tensor, in request order;
 *     else a TF_Code (3 INVALID_ARGUMENT for a malformed body, 5 NOT_FOUND
 *     for an unknown tensor name, or the code TF_SessionRun returned) and the
 *     body is the error message. The server keeps serving after an error.
 * string: int32 length, bytes.
 * tensor: int32 TF_DataType, int32 ndims, int64 dims[ndims], then the values:
 *   raw little-endian numbers, or for TF_STRING per element int64 length, bytes
 *   (the encoding of session_runner.c).
 * Responses come in completion order, not request order: the id matches them.
 * EOF on stdin: the workers finish the queued requests, then the server exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"

/* A larger frame cannot be a real request; the stream is then out of step. */
#define MAX_BODY ((int64_t)1 << 31)

typedef struct Job {
  int64_t id;
  char *body;
  size_t length;
  struct Job *next;
} Job;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t ready;
  Job *head, *tail;
  int closed;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static TF_Session *session;
static TF_Graph *graph;

static void die(const char *what, TF_Status *status) {
  fprintf(stderr, "%s: %s\n", what, status ? TF_Message(status) : "");
  exit(2);
}

/* ---- the queue between the reader (main thread) and the workers ---- */

static void push(Job *job) {
  pthread_mutex_lock(&queue.mu);
  if (queue.tail) queue.tail->next = job; else queue.head = job;
  queue.tail = job;
  pthread_cond_signal(&queue.ready);
  pthread_mutex_unlock(&queue.mu);
}

static Job *pop(void) {  /* NULL once closed and drained */
  pthread_mutex_lock(&queue.mu);
  while (!queue.head && !queue.closed) pthread_cond_wait(&queue.ready, &queue.mu);
  Job *job = queue.head;
  if (job) {
    queue.head = job->next;
    if (!queue.head) queue.tail = NULL;
  }
  pthread_mutex_unlock(&queue.mu);
  return job;
}

static void close_queue(void) {
  pthread_mutex_lock(&queue.mu);
  queue.closed = 1;
  pthread_cond_broadcast(&queue.ready);
  pthread_mutex_unlock(&queue.mu);
}

/* ---- reading a request body from memory; any overrun marks it bad ---- */

typedef struct {
  const char *p;
  size_t left;
  int bad;
} Cursor;

static const char *take(Cursor *c, size_t n) {
  if (c->bad || n > c->left) { c->bad = 1; return NULL; }
  const char *at = c->p;
  c->p += n;
  c->left -= n;
  return at;
}

static int32_t take_i32(Cursor *c) {
  int32_t v = 0;
  const char *at = take(c, 4);
  if (at) memcpy(&v, at, 4);
  return v;
}

static int64_t take_i64(Cursor *c) {
  int64_t v = 0;
  const char *at = take(c, 8);
  if (at) memcpy(&v, at, 8);
  return v;
}

static void delete_tensor(TF_Tensor *t) {
  if (!t) return;
  /* Frees the heap part of long strings; TF_DeleteTensor does it too when it
   * owns the only reference, and a freed TF_TString is reset, so both are safe. */
  if (TF_TensorType(t) == TF_STRING) {
    TF_TString *strings = (TF_TString *)TF_TensorData(t);
    int64_t count = TF_TensorElementCount(t);
    for (int64_t i = 0; i < count; i++) TF_TString_Dealloc(&strings[i]);
  }
  TF_DeleteTensor(t);
}

static int known_dtype(int32_t dtype) {
  switch (dtype) {
    case TF_FLOAT: case TF_DOUBLE: case TF_INT32: case TF_UINT8: case TF_INT64:
    case TF_BOOL: case TF_STRING:
      return 1;
    default:
      return 0;
  }
}

/* NULL with c->bad set when the encoding is malformed. */
static TF_Tensor *take_tensor(Cursor *c) {
  int32_t dtype = take_i32(c);
  int32_t ndims = take_i32(c);
  if (c->bad || !known_dtype(dtype) || ndims < 0 || ndims > 16) { c->bad = 1; return NULL; }
  int64_t dims[16];
  int64_t count = 1;
  for (int i = 0; i < ndims; i++) {
    dims[i] = take_i64(c);
    /* Bounded by the body size, so the product below cannot overflow. */
    if (dims[i] < 0 || dims[i] > (int64_t)c->left + 1) { c->bad = 1; return NULL; }
    count = dims[i] == 0 ? 0 : count * dims[i];
    if (count > MAX_BODY) { c->bad = 1; return NULL; }
  }
  if (dtype == TF_STRING) {
    if (count > (int64_t)(c->left / 8)) { c->bad = 1; return NULL; }
    TF_Tensor *t = TF_AllocateTensor(TF_STRING, dims, ndims, (size_t)count * sizeof(TF_TString));
    TF_TString *strings = (TF_TString *)TF_TensorData(t);
    for (int64_t i = 0; i < count; i++) TF_TString_Init(&strings[i]);
    for (int64_t i = 0; i < count; i++) {
      int64_t n = take_i64(c);
      const char *at = (n >= 0) ? take(c, (size_t)n) : (c->bad = 1, NULL);
      if (!at) { delete_tensor(t); return NULL; }
      TF_TString_Copy(&strings[i], at, (size_t)n);
    }
    return t;
  }
  size_t nbytes = (size_t)count * TF_DataTypeSize((TF_DataType)dtype);
  const char *at = take(c, nbytes);
  if (!at) return NULL;
  TF_Tensor *t = TF_AllocateTensor((TF_DataType)dtype, dims, ndims, nbytes);
  if (nbytes) memcpy(TF_TensorData(t), at, nbytes);
  return t;
}

/* Resolves "op:index"; returns 0 when the graph has no such output. */
static int resolve(Cursor *c, TF_Output *out) {
  int32_t n = take_i32(c);
  const char *name = (n >= 0) ? take(c, (size_t)n) : (c->bad = 1, NULL);
  if (!name || n >= 1024) { c->bad = 1; return 0; }
  char op_name[1024];
  memcpy(op_name, name, (size_t)n);
  op_name[n] = 0;
  int index = 0;
  char *colon = strrchr(op_name, ':');
  if (colon) { *colon = 0; index = atoi(colon + 1); }
  out->oper = TF_GraphOperationByName(graph, op_name);  /* locks the graph */
  out->index = index;
  return out->oper && index >= 0 && index < TF_OperationNumOutputs(out->oper);
}

/* ---- writing responses ---- */

typedef struct {
  char *data;
  size_t size, capacity;
} Buffer;

static void put(Buffer *b, const void *data, size_t n) {
  if (b->size + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->size + n) capacity *= 2;
    b->data = realloc(b->data, capacity);
    if (!b->data) die("out of memory", NULL);
    b->capacity = capacity;
  }
  memcpy(b->data + b->size, data, n);
  b->size += n;
}

static void put_tensor(Buffer *b, const TF_Tensor *t) {
  int32_t dtype = (int32_t)TF_TensorType(t);
  int32_t ndims = TF_NumDims(t);
  put(b, &dtype, 4);
  put(b, &ndims, 4);
  for (int i = 0; i < ndims; i++) {
    int64_t dim = TF_Dim(t, i);
    put(b, &dim, 8);
  }
  if (dtype == TF_STRING) {
    const TF_TString *strings = (const TF_TString *)TF_TensorData(t);
    int64_t count = TF_TensorElementCount(t);
    for (int64_t i = 0; i < count; i++) {
      int64_t n = (int64_t)TF_TString_GetSize(&strings[i]);
      put(b, &n, 8);
      put(b, TF_TString_GetDataPointer(&strings[i]), (size_t)n);
    }
  } else {
    put(b, TF_TensorData(t), TF_TensorByteSize(t));
  }
}

/* One fwrite per frame under the lock, so frames never interleave. */
static void reply(int64_t id, int32_t code, const void *body, size_t length) {
  int64_t n = (int64_t)length;
  pthread_mutex_lock(&out_mu);
  int ok = fwrite(&id, 8, 1, stdout) == 1 && fwrite(&code, 4, 1, stdout) == 1 &&
           fwrite(&n, 8, 1, stdout) == 1 && (!length || fwrite(body, 1, length, stdout) == length) &&
           fflush(stdout) == 0;
  pthread_mutex_unlock(&out_mu);
  /* The client is gone; its end of stdin closes too, and the reader then stops. */
  if (!ok) close_queue();
}

static void reply_error(int64_t id, int32_t code, const char *message) {
  reply(id, code, message, strlen(message));
}

/* ---- one request ---- */

static void serve(Job *job, TF_Status *status) {
  Cursor c = {job->body, job->length, 0};
  int32_t n_inputs = take_i32(&c);
  if (c.bad || n_inputs < 0 || n_inputs > 1024) {
    reply_error(job->id, TF_INVALID_ARGUMENT, "malformed request: bad input count");
    return;
  }
  TF_Output inputs[1024];
  TF_Tensor *values[1024] = {0};
  TF_Output outputs[1024];
  TF_Tensor *results[1024] = {0};
  int32_t n_outputs = 0;
  int32_t code = TF_OK;
  const char *message = NULL;
  for (int32_t i = 0; i < n_inputs && code == TF_OK; i++) {
    int found = resolve(&c, &inputs[i]);
    if (!c.bad) values[i] = take_tensor(&c);
    if (c.bad) code = TF_INVALID_ARGUMENT, message = "malformed request: bad input encoding";
    else if (!found) code = TF_NOT_FOUND, message = "no such input tensor in the graph";
  }
  if (code == TF_OK) {
    n_outputs = take_i32(&c);
    if (c.bad || n_outputs < 0 || n_outputs > 1024) {
      code = TF_INVALID_ARGUMENT, message = "malformed request: bad output count";
      n_outputs = 0;
    }
  }
  for (int32_t i = 0; i < n_outputs && code == TF_OK; i++) {
    if (!resolve(&c, &outputs[i])) {
      code = c.bad ? TF_INVALID_ARGUMENT : TF_NOT_FOUND;
      message = c.bad ? "malformed request: bad output name" : "no such output tensor in the graph";
    }
  }
  if (code == TF_OK && c.left) code = TF_INVALID_ARGUMENT, message = "malformed request: trailing bytes";
  if (code == TF_OK) {
    TF_SessionRun(session, NULL, inputs, values, n_inputs, outputs, results, n_outputs, NULL, 0,
                  NULL, status);
    if (TF_GetCode(status) != TF_OK) {
      code = TF_GetCode(status);
      message = TF_Message(status);
    }
  }
  if (code == TF_OK) {
    Buffer b = {0};
    put(&b, &n_outputs, 4);
    for (int32_t i = 0; i < n_outputs; i++) put_tensor(&b, results[i]);
    reply(job->id, TF_OK, b.data, b.size);
    free(b.data);
  } else {
    reply_error(job->id, code, message);
  }
  for (int32_t i = 0; i < n_inputs; i++) delete_tensor(values[i]);
  for (int32_t i = 0; i < n_outputs; i++) delete_tensor(results[i]);
}

static void *worker(void *unused) {
  (void)unused;
  TF_Status *status = TF_NewStatus();  /* one per thread: a TF_Status is not shared */
  Job *job;
  while ((job = pop())) {
    serve(job, status);
    free(job->body);
    free(job);
  }
  TF_DeleteStatus(status);
  return NULL;
}

static int read_exact(void *buf, size_t n) { return n == 0 || fread(buf, 1, n, stdin) == n; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s EXPORT_DIR N_WORKERS [OP_LIBRARY ...]\n", argv[0]);
    return 1;
  }
  int n_workers = atoi(argv[2]);
  if (n_workers < 1 || n_workers > 256) {
    fprintf(stderr, "N_WORKERS must be 1..256, got %s\n", argv[2]);
    return 1;
  }
  /* A closed client pipe must show up as a failed write, not kill the server. */
  signal(SIGPIPE, SIG_IGN);
  TF_Status *status = TF_NewStatus();
  for (int i = 3; i < argc; i++) {
    TF_LoadLibrary(argv[i], status);
    if (TF_GetCode(status) != TF_OK) die(argv[i], status);
  }
  graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Buffer *meta_graph = TF_NewBuffer();
  session = TF_LoadSessionFromSavedModel(options, NULL, argv[1], tags, 1, graph, meta_graph,
                                         status);
  if (TF_GetCode(status) != TF_OK) die("TF_LoadSessionFromSavedModel", status);

  pthread_t *threads = calloc((size_t)n_workers, sizeof(pthread_t));
  for (int i = 0; i < n_workers; i++) pthread_create(&threads[i], NULL, worker, NULL);
  reply(-1, TF_OK, NULL, 0);

  int exit_code = 0;
  for (;;) {
    int64_t header[2];
    if (!read_exact(header, 16)) break;  /* EOF: shut down */
    if (header[1] < 0 || header[1] > MAX_BODY) {
      fprintf(stderr, "request %lld: frame length %lld out of range; stream out of step\n",
              (long long)header[0], (long long)header[1]);
      exit_code = 4;
      break;
    }
    Job *job = calloc(1, sizeof(Job));
    job->id = header[0];
    job->length = (size_t)header[1];
    job->body = malloc(job->length ? job->length : 1);
    if (!read_exact(job->body, job->length)) {
      fprintf(stderr, "request %lld: truncated frame at end of input\n", (long long)job->id);
      free(job->body);
      free(job);
      exit_code = 4;
      break;
    }
    push(job);
  }
  close_queue();
  for (int i = 0; i < n_workers; i++) pthread_join(threads[i], NULL);
  free(threads);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteGraph(graph);
  TF_DeleteBuffer(meta_graph);
  TF_DeleteSessionOptions(options);
  TF_DeleteStatus(status);
  return exit_code;
}
