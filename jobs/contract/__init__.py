"""The data contracts: landing-file schemas and the warehouse's table schemas.

Every module imports schemas from here; nothing restates them. JSON Schema files for the
producers of landing files sit beside this module (`events.v1.schema.json`,
`catalog.v1.schema.json`).
"""

from slatehouse.contract.schema import *  # noqa: F401,F403
