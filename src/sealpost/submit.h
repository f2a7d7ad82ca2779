#ifndef SP_submit_H
#define SP_submit_H
#endif
