"""moto's server, with each call into its DynamoDB backend made atomic.

DynamoDB applies a conditional write atomically: of two puts of one key
racing with `attribute_not_exists`, one fails. moto's threaded server checks
the condition and then stores the item, in separate steps with no lock, so
under load (every AWS test shares one server) both puts can pass: a test of
an exactly-once effect, such as two patients racing for one slot, would
then see a double booking DynamoDB itself never lets through. Here every
public method of moto's DynamoDB backend holds one lock while it runs.

Started by tests/api/aws/env.rs as `python3 moto_atomic.py -H HOST -p PORT`
(moto_server's own arguments).
"""

import functools
import inspect
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _atomic(method):
    @functools.wraps(method)
    def held(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return held


for _name, _method in list(vars(DynamoDBBackend).items()):
    if inspect.isfunction(_method) and not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _atomic(_method))

if __name__ == "__main__":
    main()
