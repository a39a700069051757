#define _GNU_SOURCE
#include "CStockade.h"
