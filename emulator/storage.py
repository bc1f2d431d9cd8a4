"""(being written)"""

from .routing import RouteTable

routes = RouteTable()
