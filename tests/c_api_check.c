/* Compiles the public header as strict C11: the C API must stay pure C. */
#include "qengine/qengine.h"

int qe_c_api_check(void);
int qe_c_api_check(void) {
  qe_context_params p = qe_context_default_params();
  qe_chat_message m = {"user", "hi"};
  (void)m;
  return (int)p.size + (int)QE_OK;
}
