/* embed.c: the smallest complete use of libengine from C: load a model, render a chat turn,
 * stream the reply. Build against an installed qengine with examples/CMakeLists.txt.
 *
 *   embed MODEL.gguf ["question"] [max_tokens]
 */
#include <qengine/qengine.h>
#include <stdio.h>
#include <stdlib.h>

static bool on_text(const char* text, size_t len, void* user_data) {
  size_t* n_bytes = (size_t*)user_data;
  *n_bytes += len;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return true; /* keep going */
}

static int fail(const char* what) {
  fprintf(stderr, "embed: %s: %s\n", what, qe_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf [\"question\"] [max_tokens]\n", argv[0]);
    return 2;
  }
  const char* question = argc > 2 ? argv[2] : "What is the capital of France?";
  const int max_tokens = argc > 3 ? atoi(argv[3]) : 64;

  qe_model* model = NULL;
  if (qe_model_load(argv[1], NULL, &model) != QE_OK) return fail("loading the model");

  /* Render one user turn with the model's own chat template. */
  qe_chat_message msg = {"user", question};
  char prompt[4096];
  size_t prompt_len = 0;
  if (qe_chat_apply_template(model, NULL, &msg, 1, true, prompt, sizeof prompt, &prompt_len) != QE_OK) {
    qe_model_free(model);
    return fail("applying the chat template");
  }

  qe_context_params cparams = qe_context_default_params();
  cparams.n_ctx = 0; /* the model's trained length, at most 4096 */
  qe_context* ctx = NULL;
  if (qe_context_create(model, &cparams, &ctx) != QE_OK) {
    qe_model_free(model);
    return fail("creating the context");
  }

  qe_sampler_params sparams = qe_sampler_default_params();
  sparams.temperature = 0.0f; /* greedy: the same answer every run */
  qe_sampler* sampler = NULL;
  if (qe_sampler_create(&sparams, &sampler) != QE_OK) {
    qe_context_free(ctx);
    qe_model_free(model);
    return fail("creating the sampler");
  }

  size_t n_bytes = 0;
  qe_generate_params gparams = qe_generate_default_params();
  gparams.max_tokens = max_tokens;
  gparams.on_text = on_text;
  gparams.user_data = &n_bytes;
  qe_generate_stats stats;
  const qe_status st = qe_generate(ctx, sampler, prompt, &gparams, &stats);
  printf("\n");
  if (st == QE_OK) {
    fprintf(stderr, "embed: %d prompt tokens, %d generated, %.1f tokens/s\n", stats.n_prompt, stats.n_generated,
            stats.generate_ms > 0 ? 1000.0 * stats.n_generated / stats.generate_ms : 0.0);
  }

  qe_sampler_free(sampler);
  qe_context_free(ctx);
  qe_model_free(model);
  if (st != QE_OK) return fail("generating");
  return n_bytes > 0 ? 0 : 1;
}
