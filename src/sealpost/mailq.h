#ifndef SP_mailq_H
#define SP_mailq_H
#endif
