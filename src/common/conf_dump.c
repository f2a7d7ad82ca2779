/* placeholder: conf.c is being split */
#include "config.h"
typedef int placeholder_conf_dump;
