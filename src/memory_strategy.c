/* Names for the interface's enums (memory_strategy.h). */
#include "memory_strategy.h"

const char* strategy_status_name(StrategyStatus status) {
    switch (status) {
    case STRATEGY_INITIALIZING: return "initializing";
    case STRATEGY_ACTIVE: return "active";
    case STRATEGY_DEGRADED: return "degraded";
    case STRATEGY_SHUTTING_DOWN: return "shutting down";
    case STRATEGY_DESTROYED: return "destroyed";
    case STRATEGY_STATUS_INVALID: break;
    }
    return "invalid";
}

const char* strategy_error_name(StrategyError error) {
    switch (error) {
    case STRATEGY_OK: return "ok";
    case STRATEGY_ERROR_INVALID_SIZE: return "invalid size";
    case STRATEGY_ERROR_OUT_OF_MEMORY: return "out of memory";
    case STRATEGY_ERROR_ILLEGAL_STATE: return "illegal state";
    case STRATEGY_ERROR_INVALID_POINTER: return "invalid pointer";
    case STRATEGY_ERROR_ILLEGAL_TRANSITION: return "illegal transition";
    case STRATEGY_ERROR_LIMIT_EXCEEDED: return "limit exceeded";
    case STRATEGY_ERROR_DOUBLE_FREE: return "double free";
    case STRATEGY_ERROR_WRONG_STRATEGY: return "wrong strategy";
    case STRATEGY_ERROR_CORRUPTED_BLOCK: return "corrupted block";
    case STRATEGY_ERROR_LEAK: return "leak";
    case STRATEGY_ERROR_COUNT: break;
    }
    return "unknown";
}

const char* strategy_operation_name(StrategyOperation operation) {
    switch (operation) {
    case STRATEGY_OP_ALLOCATE: return "allocate";
    case STRATEGY_OP_DEALLOCATE: return "deallocate";
    case STRATEGY_OP_READ: return "read";
    case STRATEGY_OP_COUNT: break;
    }
    return "unknown";
}
