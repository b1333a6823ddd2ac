#include "services/agent/docker_engine.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <sstream>

namespace pier::agent {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string url_encode(const std::string& value) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

DockerEngine::DockerEngine(std::string socket_path, std::string api_version)
    : socket_path_(std::move(socket_path)), api_version_(std::move(api_version)) {
  global_init();
}

Result<EngineResponse> DockerEngine::request(const std::string& method, const std::string& path,
                                             const nlohmann::json& body, long timeout_ms) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Status::Error("docker: cannot initialise libcurl");
  const std::string url = "http://localhost/" + api_version_ + path;
  std::string payload;
  EngineResponse response;
  curl_slist* headers = nullptr;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  if (!body.is_null()) {
    payload = body.dump();
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  } else if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  if (headers != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (code != CURLE_OK)
    return Status::Error("docker daemon at " + socket_path_ + " unreachable: " + curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string DockerEngine::error_text(const EngineResponse& response) {
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
    return parsed["message"].get<std::string>();
  std::string text = response.body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "HTTP " + std::to_string(response.status) : text;
}

Status DockerEngine::expect(const Result<EngineResponse>& response, std::initializer_list<long> ok_statuses,
                            const std::string& what) const {
  if (!response.ok()) return response.status();
  for (long s : ok_statuses)
    if (response->status == s) return Status::Ok();
  return Status::Error(what + ": " + error_text(*response));
}

Status DockerEngine::ping() const { return expect(request("GET", "/_ping", nullptr, 3000), {200}, "docker ping"); }

Result<bool> DockerEngine::image_exists(const std::string& reference) const {
  auto response = request("GET", "/images/" + reference + "/json");
  if (!response.ok()) return response.status();
  if (response->status == 200) return true;
  if (response->status == 404) return false;
  return Status::Error("inspect image " + reference + ": " + error_text(*response));
}

Status DockerEngine::pull(const std::string& image, const std::string& tag) const {
  auto response =
      request("POST", "/images/create?fromImage=" + url_encode(image) + "&tag=" + url_encode(tag), nullptr, 600'000);
  if (!response.ok()) return response.status();
  const std::string what = "pull " + image + ":" + tag;
  if (response->status != 200) return Status::Error(what + ": " + error_text(*response));
  // A 200 streams progress lines; a failure part-way shows as a line with "error".
  std::istringstream lines(response->body);
  for (std::string line; std::getline(lines, line);) {
    auto event = nlohmann::json::parse(line, nullptr, false);
    if (event.is_object() && event.contains("error") && event["error"].is_string())
      return Status::Error(what + ": " + event["error"].get<std::string>());
  }
  return Status::Ok();
}

Status DockerEngine::ensure_network(const std::string& name, const std::string& subnet,
                                    const std::map<std::string, std::string>& labels, int mtu) const {
  auto existing = request("GET", "/networks/" + url_encode(name));
  if (!existing.ok()) return existing.status();
  if (existing->status == 200) {
    auto network = nlohmann::json::parse(existing->body, nullptr, false);
    if (!network.is_object()) return Status::Error("inspect network " + name + ": unreadable answer");
    const auto& configs = network["IPAM"]["Config"];
    if (configs.is_array())
      for (const auto& config : configs)
        if (config.is_object() && config.value("Subnet", "") == subnet) return Status::Ok();
    // The registry's subnet is the truth: an unused network of that name made for another subnet (an
    // earlier registry database) is replaced; one that containers still use is not touched.
    const auto& attached = network["Containers"];
    if (attached.is_object() && !attached.empty())
      return Status::Error("docker network " + name + " has another subnet than " + subnet +
                           " and containers attached; stop them or give the host another id");
    if (Status s = expect(request("DELETE", "/networks/" + url_encode(name)), {204, 404}, "remove network " + name);
        !s.ok())
      return s;
  }
  nlohmann::json body = {{"Name", name},
                         {"Driver", "bridge"},
                         {"CheckDuplicate", true},
                         {"Labels", labels},
                         {"IPAM", {{"Driver", "default"}, {"Config", nlohmann::json::array({{{"Subnet", subnet}}})}}}};
  if (mtu > 0) body["Options"] = {{"com.docker.network.driver.mtu", std::to_string(mtu)}};
  return expect(request("POST", "/networks/create", body), {201}, "create network " + name);
}

Result<std::string> DockerEngine::create_container(const std::string& name, const nlohmann::json& config) const {
  auto response = request("POST", "/containers/create?name=" + url_encode(name), config);
  if (Status s = expect(response, {201}, "create container " + name); !s.ok()) return s;
  auto created = nlohmann::json::parse(response->body, nullptr, false);
  if (!created.is_object() || !created.contains("Id") || !created["Id"].is_string())
    return Status::Error("create container " + name + ": no id in the daemon's answer");
  return created["Id"].get<std::string>();
}

Status DockerEngine::start_container(const std::string& id) const {
  return expect(request("POST", "/containers/" + id + "/start"), {204, 304}, "start container " + id.substr(0, 12));
}

Status DockerEngine::stop_container(const std::string& id, int grace_s) const {
  return expect(
      request("POST", "/containers/" + id + "/stop?t=" + std::to_string(grace_s), nullptr, (grace_s + 30) * 1000L),
      {204, 304, 404}, "stop container " + id.substr(0, 12));
}

Status DockerEngine::remove_container(const std::string& id) const {
  return expect(request("DELETE", "/containers/" + id + "?force=true&v=true"), {204, 404},
                "remove container " + id.substr(0, 12));
}

Result<nlohmann::json> DockerEngine::inspect_container(const std::string& id) const {
  auto response = request("GET", "/containers/" + id + "/json");
  if (Status s = expect(response, {200}, "inspect container " + id.substr(0, 12)); !s.ok()) return s;
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) return Status::Error("inspect container " + id.substr(0, 12) + ": unreadable answer");
  return parsed;
}

Result<std::vector<ContainerSummary>> DockerEngine::list_containers(const std::string& label) const {
  const nlohmann::json filters = {{"label", nlohmann::json::array({label})}};
  auto response = request("GET", "/containers/json?all=true&filters=" + url_encode(filters.dump()));
  if (Status s = expect(response, {200}, "list containers"); !s.ok()) return s;
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (!parsed.is_array()) return Status::Error("list containers: unreadable answer");
  std::vector<ContainerSummary> out;
  for (const auto& item : parsed) {
    if (!item.is_object()) continue;
    ContainerSummary c;
    c.id = item.value("Id", "");
    c.state = item.value("State", "");
    if (item.contains("Names") && item["Names"].is_array() && !item["Names"].empty() && item["Names"][0].is_string()) {
      c.name = item["Names"][0].get<std::string>();
      if (!c.name.empty() && c.name.front() == '/') c.name.erase(0, 1);
    }
    if (item.contains("Labels") && item["Labels"].is_object())
      for (const auto& [k, v] : item["Labels"].items())
        if (v.is_string()) c.labels[k] = v.get<std::string>();
    out.push_back(std::move(c));
  }
  return out;
}

Result<nlohmann::json> DockerEngine::stats(const std::string& id) const {
  auto response = request("GET", "/containers/" + id + "/stats?stream=false", nullptr, 10'000);
  if (Status s = expect(response, {200}, "stats of container " + id.substr(0, 12)); !s.ok()) return s;
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) return Status::Error("stats of container " + id.substr(0, 12) + ": unreadable answer");
  return parsed;
}

}  // namespace pier::agent
