/* placeholder: being written */
#include "config.h"
typedef int placeholder_address;
