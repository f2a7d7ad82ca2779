#ifndef SP_options_H
#define SP_options_H
#endif
