#ifndef SP_bs_H
#define SP_bs_H
#endif
