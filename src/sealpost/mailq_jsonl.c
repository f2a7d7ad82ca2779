/*
 * mailq_jsonl.c - one message in Postfix's `postqueue -j` form (see
 * mailq_jsonl.h). Our states map to Postfix's queue names: a held message
 * is in "hold", one with a deferred recipient in "deferred", one not
 * tried yet in "active" (Postfix's next stop for new mail). As Postfix
 * does, only recipients still to be delivered are listed, and
 * delay_reason only when there is one; the null sender is "".
 */
#include "config.h"

#include "mailq_jsonl.h"
#include "mailq.h"

#include <string.h>

static const char *queue_name(const struct envelope *env)
{
	if (env->flags & ENV_HELD)
		return "hold";
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RCPT_DEFERRED)
			return "deferred";
	return "active";
}

static void str(struct buf *b, const char *s)
{
	json_escape(b, s ? s : "", s ? strlen(s) : 0);
}

void mailq_format_postqueue(struct buf *b, const struct envelope *env)
{
	buf_printf(b, "{\"queue_name\": \"%s\", \"queue_id\": ", queue_name(env));
	str(b, env->id);
	buf_printf(b, ", \"arrival_time\": %lld, \"message_size\": %llu, \"forced_expire\": false, \"sender\": ",
		   (long long)env->arrival, (unsigned long long)env->size);
	str(b, env->sender);
	buf_adds(b, ", \"recipients\": [");
	bool first = true;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
			continue;
		buf_adds(b, first ? "{\"address\": " : ", {\"address\": ");
		first = false;
		str(b, r->addr);
		if (r->last_error && r->last_error[0]) {
			buf_adds(b, ", \"delay_reason\": ");
			str(b, r->last_error);
		}
		buf_addc(b, '}');
	}
	buf_adds(b, "]}\n");
}
